import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiZodBody, ZodBody } from '@plinth/common';
import { RequirePermission } from '@plinth/identity';
import { BucketAdmin, BucketAdminGuard, CurrentBucketAdmin } from './bucket-admin.guard';
import { BucketRuleInput, bucketRulesSchema } from './bucket-rules';
import { BucketsAdminService } from './buckets-admin.service';
import type { BucketInput } from './storage.service';

/** A project's storage buckets and their rules: console users (read: any member; changes: developer and up) or its secret key. */
@ApiTags('buckets')
@Controller('v1/projects/:ref/buckets')
@UseGuards(BucketAdminGuard)
@ApiBearerAuth()
@ApiSecurity('apikey')
export class BucketsController {
  constructor(private readonly buckets: BucketsAdminService) {}

  @Get()
  @RequirePermission('read', 'Project')
  list(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string) {
    return this.buckets.list(a, ref);
  }

  @Get(':id')
  @RequirePermission('read', 'Project')
  get(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string, @Param('id') id: string) {
    return this.buckets.get(a, ref, id);
  }

  @Post()
  @RequirePermission('update', 'Project')
  create(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string, @Body() body: BucketInput) {
    return this.buckets.create(a, ref, body ?? {});
  }

  @Patch(':id')
  @RequirePermission('update', 'Project')
  update(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string, @Param('id') id: string, @Body() body: BucketInput) {
    return this.buckets.update(a, ref, id, body ?? {});
  }

  @Delete(':id')
  @RequirePermission('update', 'Project')
  @HttpCode(204)
  remove(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string, @Param('id') id: string) {
    return this.buckets.remove(a, ref, id);
  }

  @Put(':id/rules')
  @RequirePermission('update', 'Project')
  @ApiZodBody(bucketRulesSchema)
  putRules(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string, @Param('id') id: string, @ZodBody(bucketRulesSchema) body: BucketRuleInput[]) {
    return this.buckets.putRules(a, ref, id, body);
  }
}
