/**
 * Meter names. Counters are additive per minute; a meter may carry a dimension after a colon
 * (`requests:rest`, `notifications:email`), and plans, quotas and totals use the base name before it.
 */
export const METERS = {
  requests: 'requests',
  egressBytes: 'egress_bytes',
  dbBytes: 'db_bytes',
  fileBytes: 'file_bytes',
  functionInvocations: 'function_invocations',
  functionGbSeconds: 'function_gb_seconds',
  /** CPU milliseconds of functions (isolated-vm's per-isolate CPU time, split among the calls sharing it). */
  functionCpuMs: 'function_cpu_ms',
  notifications: 'notifications',
  mau: 'mau',
} as const;
export type BaseMeter = (typeof METERS)[keyof typeof METERS];
export const BASE_METERS: readonly BaseMeter[] = Object.values(METERS);
/** Sampled gauges (latest value counts), not additive counters. */
export const GAUGE_METERS: readonly BaseMeter[] = [METERS.dbBytes, METERS.fileBytes];

const METER_PATTERN = /^[a-z_]+(:[a-z0-9_-]{1,40})?$/;

/** `requests:rest` → `requests`. */
export function baseMeter(meter: string): string {
  const i = meter.indexOf(':');
  return i < 0 ? meter : meter.slice(0, i);
}

export function isMeter(meter: string): boolean {
  return METER_PATTERN.test(meter) && (BASE_METERS as readonly string[]).includes(baseMeter(meter));
}

/** Usage periods are calendar months in UTC. */
export function periodStart(ms: number): Date {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
}

export function periodEnd(ms: number): Date {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
}

export function minuteOf(ms: number): number {
  return ms - (((ms % 60_000) + 60_000) % 60_000);
}
