import { Controller, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { z } from 'zod';
import { ReqMeta, RequestMeta, ZodBody } from '@plinth/common';
import { OperatorGuard } from './operator.guard';
import { ProjectMoves } from './project-moves.service';

const moveSchema = z.object({ cluster: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be a cluster name') }).strict();

/** Operator routes on projects (OPERATOR_TOKEN): not part of the customer API, so not in its OpenAPI document. */
@ApiExcludeController()
@Controller('v1/admin')
@UseGuards(OperatorGuard)
export class AdminProjectsController {
  constructor(private readonly moves: ProjectMoves) {}

  @Post('projects/:ref/move')
  @HttpCode(200)
  move(@Param('ref') ref: string, @ZodBody(moveSchema) body: z.infer<typeof moveSchema>, @ReqMeta() meta: RequestMeta) {
    return this.moves.move(ref, body.cluster, meta);
  }
}
