/** Where an org stands after a failed payment: grace (warnings), then read-only, then suspended. */
export type DelinquencyState = 'ok' | 'grace' | 'read_only' | 'suspended';

export interface Delinquency {
  state: DelinquencyState;
  since: Date | null;
  read_only_at: Date | null;
  suspended_at: Date | null;
}

const DAY_MS = 86_400_000;

/** The timeline is a pure function of when payment first failed and the clock, so no job has to flip states. */
export function delinquency(since: Date | null, now: number, graceDays: number, readOnlyDays: number): Delinquency {
  if (!since) return { state: 'ok', since: null, read_only_at: null, suspended_at: null };
  const readOnlyAt = new Date(since.getTime() + graceDays * DAY_MS);
  const suspendedAt = new Date(readOnlyAt.getTime() + readOnlyDays * DAY_MS);
  const state: DelinquencyState = now < readOnlyAt.getTime() ? 'grace' : now < suspendedAt.getTime() ? 'read_only' : 'suspended';
  return { state, since, read_only_at: readOnlyAt, suspended_at: suspendedAt };
}
