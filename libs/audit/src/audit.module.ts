import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEntryEntity } from './audit-entry.entity';
import { AuditService } from './audit.service';

@Module({ imports: [TypeOrmModule.forFeature([AuditEntryEntity])], providers: [AuditService], exports: [AuditService] })
export class AuditModule {}
