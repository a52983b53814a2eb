/**
 * `GCRA_BATCH_LUA` (gcra.ts) written again in JavaScript, statement for statement, for tests: run against a
 * `Map` standing for Redis, it lets the batching and leasing of `GcraBatcher` be unit-tested on every run, and
 * the Redis suite checks that the Lua script answers exactly as this does. Not used by the server.
 *
 * `store` maps each full key to its stored value (whole µs, as the script's `SET` leaves it). Keys' expiry is
 * left out: a key expires a second after its stored time has passed, and a stored time in the past reads the
 * same as no key (both become `now`).
 */
export function runGcraBatchReference(store: Map<string, number>, keys: string[], argv: number[]): number[] {
  // ARGV is 1-based in Lua; `at(i)` reads ARGV[i].
  const at = (i: number): number => argv[i - 1];
  const now = at(1);
  const nrules = at(2);
  const rk: number[] = [];
  const rt: number[] = [];
  const rc: number[] = [];
  const rw: number[] = [];
  let a = 3;
  for (let i = 1; i <= nrules; i++) {
    rk[i] = at(a);
    rt[i] = at(a + 1);
    rc[i] = at(a + 2);
    rw[i] = at(a + 3);
    a += 4;
  }
  const tats = new Map<number, number>();
  const dirty = new Set<number>();
  const tatOf = (k: number): number => {
    let tat = tats.get(k);
    if (tat === undefined) {
      tat = store.get(keys[k - 1]) ?? 0;
      tats.set(k, tat);
    }
    return tat;
  };
  const nret = at(a);
  a += 1;
  for (let i = 1; i <= nret; i++) {
    const k = at(a);
    let tat = tatOf(k) - at(a + 1);
    if (tat < now) tat = now;
    tats.set(k, tat);
    dirty.add(k);
    a += 2;
  }
  const out: number[] = [];
  while (a <= argv.length) {
    const m = at(a);
    const first = a + 1;
    a = first + m;
    let retry = 0;
    let deny = 0;
    let best = 1;
    let bestRem = -1;
    let bestReset = 0;
    for (let i = 1; i <= m; i++) {
      const r = at(first + i - 1);
      const t = rt[r];
      const cap = rc[r];
      let tat = tatOf(rk[r]);
      if (tat > now + cap) {
        tat = now + cap;
        tats.set(rk[r], tat);
        dirty.add(rk[r]);
      }
      if (tat < now) tat = now;
      const diff = tat + t - now;
      if (diff > cap + 0.000001 && diff - cap > retry) {
        retry = diff - cap;
        deny = i;
      }
      const rem = Math.max(0, Math.floor((cap - diff) / t + 0.000000001));
      if (bestRem < 0 || rem < bestRem) {
        bestRem = rem;
        best = i;
        bestReset = diff;
      }
    }
    if (deny > 0) {
      const ms = Math.ceil(retry / 1000);
      out.push(0, ms, deny, 0, ms);
    } else {
      const next: number[] = [];
      for (let i = 1; i <= m; i++) {
        const r = at(first + i - 1);
        let tat = tats.get(rk[r])!;
        if (tat < now) tat = now;
        next[i] = formatWhole(tat + rt[r]);
      }
      for (let i = 1; i <= m; i++) {
        const k = rk[at(first + i - 1)];
        tats.set(k, next[i]);
        dirty.add(k);
      }
      out.push(1, 0, best, bestRem, Math.ceil(bestReset / 1000));
    }
  }
  for (let i = 1; i <= nrules; i++) {
    let granted = 0;
    let after = 0;
    if (rw[i] > 0) {
      const k = rk[i];
      const t = rt[i];
      let tat = tatOf(k);
      if (tat < now) tat = now;
      const rem = Math.floor((rc[i] - (tat - now)) / t + 0.000000001);
      granted = Math.min(rw[i], Math.floor(rem / 2));
      if (granted > 0) {
        after = formatWhole(tat + granted * t);
        tats.set(k, after);
        dirty.add(k);
      } else {
        granted = 0;
      }
    }
    out.push(granted, after);
  }
  for (const k of dirty) store.set(keys[k - 1], formatWhole(tats.get(k)!));
  return out;
}

/** Lua's `tonumber(string.format('%.0f', x))`: C's printf rounds a tie to the even neighbour. */
function formatWhole(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}
