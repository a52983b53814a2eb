/** The functions runtime module: management API, invocation and rpc() on the tenant edge, runner pool, logs, cron. */
export { FunctionsRuntimeModule } from './functions-runtime.module';
/** The supervised runner processes (pids and load for operations and tests). */
export { RunnerPool, RunnerLost, RunnersUnavailable, RequestTooLarge, RequestAborted, UPLOAD_WINDOW_BYTES } from './runner-pool';
/** Runs a deployed function for a caller (limits, metering, logs). */
export { FunctionInvoker } from './function-invoker';
/** Cron: the per-minute tick that enqueues due runs (tests drive it with the TestClock). */
export { FunctionCronTickJob, FunctionCronRunJob, FUNCTION_CRON_TICK_JOB, FUNCTION_CRON_RUN_JOB } from './function-cron.job';
/** Buffered invocation logs (flush before reading them). */
export { FunctionLogs } from './function-logs';
/** Deploy-time compilation (swc) and cron parsing. */
export { compileFunction, CompileError } from './compile-function';
export { parseCron, cronMatches } from './cron';
/** The api ↔ runner IPC messages (the runner imports these types). */
export type * from './runner-protocol';
/** Per-project function concurrency (Redis-shared with REDIS_URL), for operations and tests. */
export { FunctionSlots } from './function-slots';
