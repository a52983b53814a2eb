/**
 * Usage metering. Runtimes call `MeteringService.record(projectId, meter, quantity)`; it never blocks and never
 * writes per call (a flush every METERING_FLUSH_MS ≤ 5 s; a crash loses at most that interval, never double counts).
 * Hooks for later runtimes: `function_invocations` (1 per call), `function_gb_seconds` (memory GB × seconds,
 * fractional is fine), `notifications:<channel>` (1 per message sent), `mau` (1 the first time an end user is active
 * in the month — the auth runtime dedupes), `file_bytes` as a gauge via `UsageRepository.recordSample`.
 */
export { MeteringModule } from './metering.module';
/** In-memory counters flushed as idempotent batches; month-to-date totals for quota checks. */
export { MeteringService } from './metering.service';
/** Queries over stored usage (series, totals, gauge samples) and the roll-up. */
export { UsageRepository } from './usage.repository';
export type { Granularity, SeriesPoint, UsageRow } from './usage.repository';
/** Meter names, the base meter of a dimensioned one, and the UTC-month usage period. */
export { METERS, BASE_METERS, GAUGE_METERS, baseMeter, isMeter, periodStart, periodEnd, minuteOf } from './meters';
export type { BaseMeter } from './meters';
/** Jobs: hourly roll-up, daily database-size sampling. */
export { RollupUsageJob, ROLLUP_USAGE_JOB } from './rollup-usage.job';
export { SampleStorageJob, SAMPLE_DB_BYTES_JOB } from './sample-storage.job';
/** Where runtimes register gauges the sampling job records (e.g. `file_bytes`). */
export { GaugeSources } from './gauge-sources';
export type { GaugeSource } from './gauge-sources';
