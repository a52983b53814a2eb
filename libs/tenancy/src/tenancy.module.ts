import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdentityModule } from '@plinth/identity';
import { KeysModule } from '@plinth/keys';
import { ProjectRefs } from './project-ref';
import { ProjectEntity } from './project.entity';
import { ProjectsController } from './projects.controller';
import { ProjectsService } from './projects.service';
import { Provisioner } from './provisioner';
import { ProvisioningHooks } from './provisioning-hooks';

@Module({
  imports: [IdentityModule, KeysModule, TypeOrmModule.forFeature([ProjectEntity])],
  controllers: [ProjectsController],
  providers: [ProjectsService, Provisioner, ProvisioningHooks, ProjectRefs],
  exports: [ProjectsService, ProvisioningHooks],
})
export class TenancyModule {}
