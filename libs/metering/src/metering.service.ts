import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ServerResponse } from 'node:http';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { Clock } from '@plinth/common';
import { baseMeter, METERS, minuteOf, periodEnd, periodStart } from './meters';
import { UsageRepository, UsageRow } from './usage.repository';

interface PeriodTotals {
  periodStart: number;
  totals: Map<string, number>;
  loadedAt: number;
  refreshing: boolean;
}

/** Unflushed counts: minute → project → meter → quantity (nested maps: no key strings built per request). */
type Pending = Map<number, Map<string, Map<string, number>>>;

type FlushListener = (projectIds: ReadonlySet<string>) => Promise<unknown> | void;

/**
 * A project's gateway requests and egress bytes on one runtime in the minute being counted: plain numbers that a
 * finished response adds to, moved into `pending` when the minute changes and at every flush.
 */
interface ResponseMeter {
  readonly projectId: string;
  readonly runtime: string;
  /** `requests:<runtime>`. */
  readonly meter: string;
  minute: number;
  requests: number;
  egress: number;
  /** Dropped from the table (idle for a flush interval): responses still holding it look it up again. */
  retired: boolean;
}

/** Published by Node's HTTP server as each response finishes ({ request, response, socket, server }). */
const RESPONSE_FINISH = 'http.server.response.finish';

/**
 * What a {@link MeteringService} keeps on a socket (made at its first response, then only updated): its bytes
 * written when its last response finished, where the next response's bytes start, and the tracked response in
 * flight on it with its counter. A response pipelined behind another tracked one waits in a WeakMap instead.
 */
interface SocketMeter {
  sent: number;
  response: object | undefined;
  meter: ResponseMeter | undefined;
  /** Where that response's admission was counted ({@link MeteringService.countAdmitted}), if it was. */
  admitted: AdmissionCount | undefined;
}

/** Requests admitted under a quota and not finished yet, in one epoch of a project. */
interface AdmissionCount {
  n: number;
}

/**
 * A project's admitted-but-unfinished requests, in two epochs of ADMISSION_EPOCH_MS: an admission holds its place
 * until its response finishes, or at most two epochs (a response that never finishes — the client went away — must
 * not hold a place for ever).
 */
interface Admissions {
  current: AdmissionCount;
  previous: AdmissionCount;
  since: number;
}

const ADMISSION_EPOCH_MS = 30_000;

type MeteredSocket = { bytesWritten?: number; [state: symbol]: SocketMeter | undefined };

/**
 * Usage counters. The hot path (`record`) only adds to in-memory maps; a flush every METERING_FLUSH_MS (≤ 5 s)
 * writes them as one additive upsert under a batch id, so a retried flush adds once. A crash loses at most the
 * counts of the last interval and never double counts.
 *
 * It also keeps each active project's month-to-date totals per base meter (the database's, plus what this
 * process counted since), which quota checks read without a query.
 */
@Injectable()
export class MeteringService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(MeteringService.name);
  private pending: Pending = new Map();
  /** The minute being counted and its bucket in `pending` (nearly every record lands there). */
  private minute = -1;
  private minuteBucket: Map<string, Map<string, number>> | undefined;
  /** The current usage period [periodFrom, periodTo), recomputed when the clock leaves it. */
  private periodFrom = 0;
  private periodTo = 0;
  private readonly baseMeters = new Map<string, string>();
  /** runtime → project → its response counter. */
  private readonly responseMeters = new Map<string, Map<string, ResponseMeter>>();
  /** Batches taken out of `pending` and not yet committed, oldest first (retried with the same id). */
  private readonly unflushed: Array<{ id: string; rows: UsageRow[] }> = [];
  private readonly periods = new Map<string, PeriodTotals>();
  private readonly listeners: FlushListener[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private subscribed = false;
  /**
   * Where this instance keeps its {@link SocketMeter} on sockets: a symbol of its own, since several apps in one
   * process (tests) each see every response and count only theirs. Tracked responses that aren't in their socket's
   * slot (pipelined, or no socket yet) are in `tracked`.
   */
  private readonly socketKey = Symbol('plinth.socketMeter');
  private readonly tracked = new WeakMap<object, ResponseMeter>();
  /** Admissions of tracked responses that aren't in their socket's slot. */
  private readonly admittedIn = new WeakMap<object, AdmissionCount>();
  private readonly admissions = new Map<string, Admissions>();

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: UsageRepository,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    if (!this.config.metering.enabled) return;
    this.subscribe();
    this.timer = setInterval(() => void this.flush().catch((e: Error) => this.logger.warn(`usage flush failed, will retry: ${e.message}`)), this.config.metering.flushMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    if (this.subscribed) unsubscribe(RESPONSE_FINISH, this.responseFinished);
    this.subscribed = false;
    await this.flush().catch((e: Error) => this.logger.error(`final usage flush failed: ${e.message}`));
  }

  /** Adds `quantity` of `meter` (e.g. `requests:rest`, `function_gb_seconds`) to a project's usage. Never blocks. */
  record(projectId: string, meter: string, quantity: number): void {
    if (!this.config.metering.enabled || !(quantity > 0)) return;
    const now = this.clock.nowMs();
    this.add(this.meters(projectId, now), this.liveTotals(projectId, now), meter, quantity);
  }

  /**
   * Counts a tenant request and its response bytes when the response finishes. Responses refused by limits
   * (402, 429) are not billed.
   */
  trackResponse(res: ServerResponse, projectId: string, runtime: string): void {
    if (!this.config.metering.enabled) return;
    if (!this.subscribed) this.subscribe();
    const meter = this.responseMeter(runtime, projectId);
    // Usually the socket's slot: a few stores on an object made once per connection, where a WeakMap entry per
    // response costs several times more (measured in a loaded server).
    const socket = res.socket as unknown as MeteredSocket | null;
    const state = socket?.[this.socketKey];
    if (state !== undefined && state.response === undefined) {
      state.response = res;
      state.meter = meter;
    } else {
      this.tracked.set(res, meter);
    }
  }

  /**
   * Counts a tracked response's request as admitted under a quota (the quota check calls this in the same synchronous
   * step as its decision): until the response finishes it is in {@link admittedInFlight}, then in the totals like any
   * finished response. So concurrent requests on one instance can't all pass a cap that only finished ones count
   * against.
   */
  countAdmitted(res: object, projectId: string): void {
    if (!this.config.metering.enabled) return;
    const count = this.admissionsOf(projectId, this.clock.nowMs()).current;
    count.n++;
    const socket = (res as { socket?: unknown }).socket as MeteredSocket | null | undefined;
    const state = socket?.[this.socketKey];
    if (state !== undefined && state.response === res) state.admitted = count;
    else this.admittedIn.set(res, count);
  }

  /** A project's requests counted by {@link countAdmitted} whose responses haven't finished (this instance). */
  admittedInFlight(projectId: string): number {
    const a = this.admissions.get(projectId);
    if (a === undefined) return 0;
    this.rotate(a, this.clock.nowMs());
    return a.current.n + a.previous.n;
  }

  private admissionsOf(projectId: string, now: number): Admissions {
    let a = this.admissions.get(projectId);
    if (a === undefined) {
      // Dropping the table only forgets in-flight places (their responses then decrement orphaned counters).
      if (this.admissions.size >= 50_000) this.admissions.clear();
      this.admissions.set(projectId, (a = { current: { n: 0 }, previous: { n: 0 }, since: now }));
    } else this.rotate(a, now);
    return a;
  }

  private rotate(a: Admissions, now: number): void {
    if (now - a.since < ADMISSION_EPOCH_MS) return;
    a.previous = now - a.since < 2 * ADMISSION_EPOCH_MS ? a.current : { n: 0 };
    a.current = { n: 0 };
    a.since = now;
  }

  /**
   * Node reports every finished response on a diagnostics channel, with its socket: one subscriber for all of them
   * costs less than a 'finish' listener (and its closure) per response. Subscribed at start-up, so it sees every
   * response on every socket, and each response's bytes are its socket's since the one before it finished.
   */
  private subscribe(): void {
    subscribe(RESPONSE_FINISH, this.responseFinished);
    this.subscribed = true;
  }

  /**
   * A response finished (any of the process's HTTP servers): its bytes are what its socket took since the socket's
   * previous response finished (responses on a connection go out one after another, pipelined ones too); counted
   * if it was tracked.
   */
  private readonly responseFinished = (message: unknown): void => {
    const { response, socket } = message as { response: ServerResponse; socket: MeteredSocket | null };
    let bytes = 0;
    let meter: ResponseMeter | undefined;
    let admitted: AdmissionCount | undefined;
    if (socket) {
      const sent = socket.bytesWritten ?? 0;
      const state = socket[this.socketKey];
      if (state === undefined) {
        socket[this.socketKey] = { sent, response: undefined, meter: undefined, admitted: undefined };
        bytes = sent;
      } else {
        bytes = sent - state.sent;
        state.sent = sent;
        if (state.response === response) {
          meter = state.meter;
          admitted = state.admitted;
          state.response = undefined;
          state.meter = undefined;
          state.admitted = undefined;
        }
      }
    }
    if (meter === undefined) {
      meter = this.tracked.get(response);
      if (meter !== undefined) admitted = this.admittedIn.get(response);
    }
    // Leaves the in-flight count in the same step as `finished` adds it to the totals: never counted twice or not at all.
    if (admitted !== undefined && admitted.n > 0) admitted.n--;
    if (meter !== undefined) this.finished(meter, response.statusCode, bytes);
  };

  private finished(meter: ResponseMeter, status: number, bytes: number): void {
    if (status === 402 || status === 429) return;
    const m = meter.retired ? this.responseMeter(meter.runtime, meter.projectId) : meter;
    const now = this.clock.nowMs();
    if (now < m.minute || now - m.minute >= 60_000) this.rollMinute(m, minuteOf(now));
    m.requests++;
    if (bytes > 0) m.egress += bytes;
    const totals = this.liveTotals(m.projectId, now);
    if (totals !== undefined) {
      totals.set(METERS.requests, (totals.get(METERS.requests) ?? 0) + 1);
      if (bytes > 0) totals.set(METERS.egressBytes, (totals.get(METERS.egressBytes) ?? 0) + bytes);
    }
  }

  /** Called after each successful flush with the projects it touched (alerts hook in here). */
  onFlush(listener: FlushListener): void {
    this.listeners.push(listener);
  }

  /**
   * Writes everything counted so far, then runs the flush listeners (outside the lock: they may read totals).
   * Safe to call any time (tests, shutdown); flushes run one at a time.
   */
  async flush(): Promise<void> {
    const touched = await this.exclusive(async () => {
      this.drainResponseMeters(true);
      if (this.pending.size) {
        const rows: UsageRow[] = [];
        for (const [minute, projects] of this.pending) {
          for (const [projectId, meters] of projects) for (const [meter, quantity] of meters) rows.push({ projectId, meter, minute, quantity });
        }
        this.pending = new Map();
        this.minute = -1;
        this.minuteBucket = undefined;
        this.unflushed.push({ id: randomUUID(), rows });
      }
      const touched = new Set<string>();
      while (this.unflushed.length) {
        const batch = this.unflushed[0];
        await this.repo.applyBatch(batch.id, batch.rows);
        this.unflushed.shift();
        for (const r of batch.rows) touched.add(r.projectId);
      }
      return touched;
    });
    if (touched.size) await Promise.allSettled(this.listeners.map((l) => l(touched)));
  }

  /**
   * Month-to-date usage of a project per base meter: the database's plus this process's unflushed counts.
   * Cached and refreshed in the background every QUOTA_REFRESH_MS, so other instances' usage shows up within
   * about a flush interval plus that; when the database can't be read the last known totals stay in force.
   */
  async periodTotals(projectId: string): Promise<ReadonlyMap<string, number>> {
    return this.cachedPeriodTotals(projectId) ?? (await this.load(projectId, periodStart(this.clock.nowMs()).getTime())).totals;
  }

  /**
   * {@link periodTotals} without waiting, for the request path: the cached totals (refreshed in the background
   * when due), or undefined when this project's totals for the current period aren't loaded yet.
   */
  cachedPeriodTotals(projectId: string): ReadonlyMap<string, number> | undefined {
    const p = this.periods.get(projectId);
    if (p === undefined) return undefined;
    const now = this.clock.nowMs();
    if (p.periodStart !== this.period(now)) return undefined;
    if (now - p.loadedAt > this.config.metering.quotaRefreshMs && !p.refreshing) {
      p.refreshing = true;
      void this.load(projectId, p.periodStart)
        .catch((e: Error) => this.logger.warn(`usage refresh failed, keeping last known totals: ${e.message}`))
        .finally(() => (p.refreshing = false));
    }
    return p.totals;
  }

  /** Drops cached totals (tests, or after usage was changed out of band). */
  forget(projectId?: string): void {
    if (projectId) this.periods.delete(projectId);
    else this.periods.clear();
  }

  /** Loads under the flush lock, so a batch is never both in the database total and in the unflushed sums. */
  private load(projectId: string, start: number): Promise<PeriodTotals> {
    return this.exclusive(async () => {
      const end = new Date(Date.UTC(new Date(start).getUTCFullYear(), new Date(start).getUTCMonth() + 1, 1));
      const rows = await this.repo.totals([projectId], new Date(start), end);
      const totals = new Map<string, number>(rows.map((r) => [r.meter, Number(r.quantity)]));
      this.drainResponseMeters(false);
      const add = (meter: string, minute: number, q: number) => {
        if (minute >= start && minute < end.getTime()) totals.set(baseMeter(meter), (totals.get(baseMeter(meter)) ?? 0) + q);
      };
      for (const [minute, projects] of this.pending) {
        const meters = projects.get(projectId);
        if (meters) for (const [meter, q] of meters) add(meter, minute, q);
      }
      for (const b of this.unflushed) for (const r of b.rows) if (r.projectId === projectId) add(r.meter, r.minute, r.quantity);
      const entry: PeriodTotals = { periodStart: start, totals, loadedAt: this.clock.nowMs(), refreshing: false };
      if (this.periods.size > 50_000) this.periods.clear();
      this.periods.set(projectId, entry);
      return entry;
    });
  }

  /** The pending counters of a project for the minute of `now`. */
  private meters(projectId: string, now: number): Map<string, number> {
    const minute = minuteOf(now);
    let bucket = this.minuteBucket;
    if (minute !== this.minute || bucket === undefined) {
      bucket = this.pending.get(minute);
      if (bucket === undefined) this.pending.set(minute, (bucket = new Map()));
      this.minute = minute;
      this.minuteBucket = bucket;
    }
    let meters = bucket.get(projectId);
    if (meters === undefined) bucket.set(projectId, (meters = new Map()));
    return meters;
  }

  /** The month-to-date totals quota checks read, when loaded for the period of `now`. */
  private liveTotals(projectId: string, now: number): Map<string, number> | undefined {
    const p = this.periods.get(projectId);
    return p !== undefined && p.periodStart === this.period(now) ? p.totals : undefined;
  }

  private add(meters: Map<string, number>, totals: Map<string, number> | undefined, meter: string, quantity: number): void {
    meters.set(meter, (meters.get(meter) ?? 0) + quantity);
    if (totals === undefined) return;
    let base = this.baseMeters.get(meter);
    if (base === undefined) {
      base = baseMeter(meter);
      if (this.baseMeters.size < 10_000) this.baseMeters.set(meter, base);
    }
    totals.set(base, (totals.get(base) ?? 0) + quantity);
  }

  /** Start (ms) of the usage period holding `now`; Dates only when the month changes. */
  private period(now: number): number {
    if (now < this.periodFrom || now >= this.periodTo) {
      this.periodFrom = periodStart(now).getTime();
      this.periodTo = periodEnd(now).getTime();
    }
    return this.periodFrom;
  }

  /** The response counter of a project on a runtime (made on its first request, or again after it was retired). */
  private responseMeter(runtime: string, projectId: string): ResponseMeter {
    let ofRuntime = this.responseMeters.get(runtime);
    if (ofRuntime === undefined) this.responseMeters.set(runtime, (ofRuntime = new Map()));
    let m = ofRuntime.get(projectId);
    if (m === undefined) {
      m = { projectId, runtime, meter: `${METERS.requests}:${runtime}`, minute: minuteOf(this.clock.nowMs()), requests: 0, egress: 0, retired: false };
      ofRuntime.set(projectId, m);
    }
    return m;
  }

  /** Moves a counter's counts into `pending` under its minute, and starts it on `minute`. */
  private rollMinute(m: ResponseMeter, minute: number): void {
    if (m.requests > 0 || m.egress > 0) {
      let bucket = this.pending.get(m.minute);
      if (bucket === undefined) this.pending.set(m.minute, (bucket = new Map()));
      let meters = bucket.get(m.projectId);
      if (meters === undefined) bucket.set(m.projectId, (meters = new Map()));
      if (m.requests > 0) meters.set(m.meter, (meters.get(m.meter) ?? 0) + m.requests);
      if (m.egress > 0) meters.set(METERS.egressBytes, (meters.get(METERS.egressBytes) ?? 0) + m.egress);
      m.requests = 0;
      m.egress = 0;
    }
    m.minute = minute;
  }

  /**
   * Moves every response counter's counts into `pending` (before a flush, or a load that sums what is pending).
   * On a flush, counters that counted nothing since the last one are dropped, so the table holds active projects.
   */
  private drainResponseMeters(retireIdle: boolean): void {
    for (const ofRuntime of this.responseMeters.values()) {
      for (const m of ofRuntime.values()) {
        if (m.requests > 0 || m.egress > 0) this.rollMinute(m, m.minute);
        else if (retireIdle) {
          m.retired = true;
          ofRuntime.delete(m.projectId);
        }
      }
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
