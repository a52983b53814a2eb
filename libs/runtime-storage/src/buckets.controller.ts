import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiEndpoint, ApiZodBody, ZodBody } from '@plinth/common';
import { RequirePermission } from '@plinth/identity';
import { BucketAdmin, BucketAdminGuard, CurrentBucketAdmin } from './bucket-admin.guard';
import { BucketRuleInput, bucketRulesSchema } from './bucket-rules';
import { BucketsAdminService } from './buckets-admin.service';
import { managedBucketSchema } from './buckets.responses';
import type { BucketInput } from './storage.service';

/** A project's storage buckets and their rules: console users (read: any member; changes: developer and up) or its secret key. */
@ApiTags('buckets')
@Controller('v1/projects/:ref/buckets')
@UseGuards(BucketAdminGuard)
@ApiBearerAuth()
@ApiSecurity('apikey')
export class BucketsController {
  constructor(private readonly buckets: BucketsAdminService) {}

  @ApiEndpoint({ summary: 'List buckets', description: "The project's storage buckets with their limits and rules.", response: z.array(managedBucketSchema) })
  @Get()
  @RequirePermission('read', 'Project')
  list(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string) {
    return this.buckets.list(a, ref);
  }

  @ApiEndpoint({ summary: 'Get a bucket', description: 'One bucket with its limits and rules.', response: managedBucketSchema })
  @Get(':id')
  @RequirePermission('read', 'Project')
  get(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string, @Param('id') id: string) {
    return this.buckets.get(a, ref, id);
  }

  @ApiEndpoint({ summary: 'Create a bucket', description: 'Creates a bucket {id, name, public, file_size_limit, allowed_mime_types}. A bucket without rules is reachable only with a secret key (public buckets are also readable by anyone).', status: 201, response: managedBucketSchema })
  @Post()
  @RequirePermission('update', 'Project')
  create(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string, @Body() body: BucketInput) {
    return this.buckets.create(a, ref, body ?? {});
  }

  @ApiEndpoint({ summary: 'Change a bucket', description: 'Changes whether a bucket is public, its size limit or its allowed types.', response: managedBucketSchema })
  @Patch(':id')
  @RequirePermission('update', 'Project')
  update(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string, @Param('id') id: string, @Body() body: BucketInput) {
    return this.buckets.update(a, ref, id, body ?? {});
  }

  @ApiEndpoint({ summary: 'Delete a bucket', description: 'Deletes an empty bucket; a bucket that still holds objects is refused with 409 (empty it first).', status: 204 })
  @Delete(':id')
  @RequirePermission('update', 'Project')
  @HttpCode(204)
  remove(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string, @Param('id') id: string) {
    return this.buckets.remove(a, ref, id);
  }

  @ApiEndpoint({ summary: 'Replace bucket rules', description: 'Replaces the rules of a bucket: per role (anon, authenticated) and action (read, create, update, delete), with optional conditions over owner_id, path, mime_type and size.', response: managedBucketSchema })
  @Put(':id/rules')
  @RequirePermission('update', 'Project')
  @ApiZodBody(bucketRulesSchema)
  putRules(@CurrentBucketAdmin() a: BucketAdmin, @Param('ref') ref: string, @Param('id') id: string, @ZodBody(bucketRulesSchema) body: BucketRuleInput[]) {
    return this.buckets.putRules(a, ref, id, body);
  }
}
