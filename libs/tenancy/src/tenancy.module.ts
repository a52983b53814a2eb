import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdentityModule } from '@plinth/identity';
import { KeysModule } from '@plinth/keys';
import { ProjectRefs } from './project-ref';
import { ProjectEntity } from './project.entity';
import { ProjectsController } from './projects.controller';
import { ProjectStructure } from './project-structure';
import { ProjectsRepository } from './projects.repository';
import { ProjectsService } from './projects.service';
import { AdminProjectsController } from './admin-projects.controller';
import { OperatorGuard } from './operator.guard';
import { Placement } from './placement';
import { ProjectMoves } from './project-moves.service';
import { Provisioner } from './provisioner';
import { ProvisioningHooks } from './provisioning-hooks';

@Module({
  imports: [IdentityModule, KeysModule, TypeOrmModule.forFeature([ProjectEntity])],
  controllers: [ProjectsController, AdminProjectsController],
  providers: [ProjectsService, ProjectsRepository, ProjectStructure, Provisioner, ProvisioningHooks, ProjectRefs, Placement, ProjectMoves, OperatorGuard],
  exports: [ProjectsService, ProjectsRepository, ProjectStructure, ProvisioningHooks],
})
export class TenancyModule {}
