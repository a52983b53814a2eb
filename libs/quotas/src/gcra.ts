/** One rate limit to apply: `limit` per `windowMs`, bursts up to `limit`, counted under `key`. */
export interface RateRule {
  key: string;
  limit: number;
  windowMs: number;
}

export interface RateDecision {
  allowed: boolean;
  /** When refused: how long until the request would be admitted. */
  retryAfterMs: number;
  /** The binding rule's limit and what is left of it, and when it is full again. */
  limit: number;
  remaining: number;
  resetMs: number;
}

/**
 * GCRA (the "virtual scheduling" token bucket) over several rules at once, all or nothing: a request is
 * admitted only if every rule admits it, and a refused request consumes nothing. Times in microseconds so
 * windows that don't divide evenly stay exact enough. `tats` maps key → theoretical arrival time.
 * The Redis store runs the same algorithm in Lua ({@link GCRA_BATCH_LUA}).
 */
/** Reused for the new arrival times of a request's rules (at most a few): no array per call. */
const SCRATCH = new Float64Array(8);

export function gcra(tats: Map<string, number>, rules: readonly RateRule[], nowMs: number): RateDecision {
  const now = nowMs * 1000;
  let retryUs = 0;
  let denyIdx = -1;
  let bestIdx = 0;
  let bestRemaining = Infinity;
  let bestReset = 0;
  const next = rules.length <= SCRATCH.length ? SCRATCH : new Float64Array(rules.length);
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    const t = (r.windowMs * 1000) / r.limit;
    const cap = t * r.limit;
    let stored = tats.get(r.key) ?? 0;
    // Debt is at most one window of the rule as it is now: a bucket left by a stricter rule (a limit lowered, then
    // raised or cleared) is lowered to one window ahead, refused or not, so it drains at the new rate.
    if (stored > now + cap) tats.set(r.key, (stored = now + cap));
    const newTat = Math.max(stored, now) + t;
    next[i] = newTat;
    const diff = newTat - now;
    if (diff > cap + 1e-6 && diff - cap > retryUs) {
      retryUs = diff - cap;
      denyIdx = i;
    }
    const remaining = Math.max(0, Math.floor((cap - diff) / t + 1e-9));
    if (remaining < bestRemaining) {
      bestRemaining = remaining;
      bestIdx = i;
      bestReset = diff;
    }
  }
  if (denyIdx >= 0) {
    const retryMs = Math.ceil(retryUs / 1000);
    return { allowed: false, retryAfterMs: retryMs, limit: rules[denyIdx].limit, remaining: 0, resetMs: retryMs };
  }
  for (let i = 0; i < rules.length; i++) tats.set(rules[i].key, next[i]);
  return {
    allowed: true,
    retryAfterMs: 0,
    limit: rules[bestIdx]?.limit ?? 0,
    remaining: bestRemaining === Infinity ? 0 : bestRemaining,
    resetMs: Math.ceil(bestReset / 1000),
  };
}

/**
 * The Redis version of {@link gcra}, for a batch of requests in one atomic call: the requests are decided one
 * after the other, in order, exactly as if each had been its own call, so a batch admits what the same
 * sequence of single calls would. Each key is read once and written once per batch.
 *
 * It also hands out and takes back leases ({@link RateLimiter}): tokens an instance takes ahead, to admit
 * requests without a call. Tokens given back go first, so the batch's requests can use them; leases come last,
 * from what the batch's requests left, and at most half of it, so near a limit requests go first.
 *
 * KEYS: the distinct keys of the batch. ARGV: now (µs); the number of distinct rules, then per rule: its key's
 * index in KEYS (1-based), interval (µs), capacity (µs), tokens wanted as a lease (0: none); the number of
 * returns, then per return: a key's index and the time (µs) given back; then per request: its number of
 * rules, then their indices (1-based). Returns per request five integers: admitted (1/0), retry after (ms),
 * the binding rule (1-based, in the request's own list), remaining, reset (ms); then per rule two: tokens
 * leased, and the key's stored time after the lease (µs).
 * Stored times are rounded to whole µs after every admission, as a sequence of single calls would store them. A
 * stored time more than one window ahead (left by a stricter rule on the same key) is lowered to one window ahead.
 */
export const GCRA_BATCH_LUA = `
local now = tonumber(ARGV[1])
local nrules = tonumber(ARGV[2])
local rk, rt, rc, rw = {}, {}, {}, {}
local a = 3
for i = 1, nrules do
  rk[i] = tonumber(ARGV[a])
  rt[i] = tonumber(ARGV[a + 1])
  rc[i] = tonumber(ARGV[a + 2])
  rw[i] = tonumber(ARGV[a + 3])
  a = a + 4
end
local tats = {}
local dirty = {}
local function tatOf(k)
  local tat = tats[k]
  if tat == nil then
    tat = tonumber(redis.call('GET', KEYS[k]) or '0')
    tats[k] = tat
  end
  return tat
end
local nret = tonumber(ARGV[a])
a = a + 1
for i = 1, nret do
  local k = tonumber(ARGV[a])
  local tat = tatOf(k) - tonumber(ARGV[a + 1])
  if tat < now then tat = now end
  tats[k] = tat
  dirty[k] = true
  a = a + 2
end
local out = {}
local n = 0
local nargs = #ARGV
while a <= nargs do
  local m = tonumber(ARGV[a])
  local first = a + 1
  a = first + m
  local retry = 0
  local deny = 0
  local best = 1
  local bestRem = -1
  local bestReset = 0
  for i = 1, m do
    local r = tonumber(ARGV[first + i - 1])
    local t = rt[r]
    local cap = rc[r]
    local tat = tatOf(rk[r])
    if tat > now + cap then
      tat = now + cap
      tats[rk[r]] = tat
      dirty[rk[r]] = true
    end
    if tat < now then tat = now end
    local diff = tat + t - now
    if diff > cap + 0.000001 and diff - cap > retry then
      retry = diff - cap
      deny = i
    end
    local rem = math.floor((cap - diff) / t + 0.000000001)
    if rem < 0 then rem = 0 end
    if bestRem < 0 or rem < bestRem then
      bestRem = rem
      best = i
      bestReset = diff
    end
  end
  if deny > 0 then
    local ms = math.ceil(retry / 1000)
    out[n + 1] = 0
    out[n + 2] = ms
    out[n + 3] = deny
    out[n + 4] = 0
    out[n + 5] = ms
  else
    local next = {}
    for i = 1, m do
      local r = tonumber(ARGV[first + i - 1])
      local tat = tats[rk[r]]
      if tat < now then tat = now end
      next[i] = tonumber(string.format('%.0f', tat + rt[r]))
    end
    for i = 1, m do
      local k = rk[tonumber(ARGV[first + i - 1])]
      tats[k] = next[i]
      dirty[k] = true
    end
    out[n + 1] = 1
    out[n + 2] = 0
    out[n + 3] = best
    out[n + 4] = bestRem
    out[n + 5] = math.ceil(bestReset / 1000)
  end
  n = n + 5
end
for i = 1, nrules do
  local granted = 0
  local after = 0
  if rw[i] > 0 then
    local k = rk[i]
    local t = rt[i]
    local tat = tatOf(k)
    if tat < now then tat = now end
    local rem = math.floor((rc[i] - (tat - now)) / t + 0.000000001)
    granted = math.min(rw[i], math.floor(rem / 2))
    if granted > 0 then
      after = tonumber(string.format('%.0f', tat + granted * t))
      tats[k] = after
      dirty[k] = true
    else
      granted = 0
    end
  end
  out[n + 1] = granted
  out[n + 2] = after
  n = n + 2
end
for k in pairs(dirty) do
  local tat = tats[k]
  redis.call('SET', KEYS[k], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
return out
`;
