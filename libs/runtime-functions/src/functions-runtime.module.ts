import { Module } from '@nestjs/common';
import { GatewayModule } from '@plinth/gateway';
import { IdentityModule } from '@plinth/identity';
import { MeteringModule } from '@plinth/metering';
import { QuotasModule } from '@plinth/quotas';
import { DataRuntimeModule } from '@plinth/runtime-data';
import { TenancyModule } from '@plinth/tenancy';
import { FunctionAdminGuard } from './function-admin.guard';
import { FunctionCronRunJob, FunctionCronTickJob } from './function-cron.job';
import { FunctionDirectory } from './function-directory';
import { FunctionInvoker } from './function-invoker';
import { FunctionLogs } from './function-logs';
import { FunctionRpc } from './function-rpc';
import { FunctionSecretBox } from './function-secret-box';
import { FunctionSlots } from './function-slots';
import { FunctionsController } from './functions.controller';
import { FunctionsEdge } from './functions-edge';
import { FunctionsRepository } from './functions.repository';
import { FunctionsService } from './functions.service';
import { RunnerPool } from './runner-pool';

/**
 * The functions runtime: the management API (`/v1/projects/:ref/functions…`), invocation at
 * `/p/:ref/functions/v1/:name` and `rpc()` at `/p/:ref/rest/v1/rpc/:name` (both on the tenant edge), the supervised
 * runner pool, logs and cron.
 */
@Module({
  imports: [GatewayModule, IdentityModule, TenancyModule, QuotasModule, MeteringModule, DataRuntimeModule],
  controllers: [FunctionsController],
  providers: [
    FunctionsRepository,
    FunctionSecretBox,
    FunctionDirectory,
    FunctionLogs,
    RunnerPool,
    FunctionInvoker,
    FunctionSlots,
    FunctionsService,
    FunctionAdminGuard,
    FunctionsEdge,
    FunctionRpc,
    FunctionCronTickJob,
    FunctionCronRunJob,
  ],
  exports: [RunnerPool, FunctionInvoker, FunctionCronTickJob, FunctionLogs],
})
export class FunctionsRuntimeModule {}
