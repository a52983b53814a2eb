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
 * The Redis store runs the same algorithm in Lua.
 */
export function gcra(tats: Map<string, number>, rules: RateRule[], nowMs: number): RateDecision {
  const now = nowMs * 1000;
  let retryUs = 0;
  let denyIdx = -1;
  let bestIdx = 0;
  let bestRemaining = Infinity;
  let bestReset = 0;
  const next: number[] = [];
  rules.forEach((r, i) => {
    const t = (r.windowMs * 1000) / r.limit;
    const cap = t * r.limit;
    const tat = Math.max(tats.get(r.key) ?? 0, now);
    const newTat = tat + t;
    const diff = newTat - now;
    if (diff > cap + 1e-6 && diff - cap > retryUs) {
      retryUs = diff - cap;
      denyIdx = i;
    }
    next.push(newTat);
    const remaining = Math.max(0, Math.floor((cap - diff) / t + 1e-9));
    if (remaining < bestRemaining) {
      bestRemaining = remaining;
      bestIdx = i;
      bestReset = diff;
    }
  });
  if (denyIdx >= 0) {
    return { allowed: false, retryAfterMs: Math.ceil(retryUs / 1000), limit: rules[denyIdx].limit, remaining: 0, resetMs: Math.ceil(retryUs / 1000) };
  }
  rules.forEach((r, i) => tats.set(r.key, next[i]));
  return {
    allowed: true,
    retryAfterMs: 0,
    limit: rules[bestIdx]?.limit ?? 0,
    remaining: bestRemaining === Infinity ? 0 : bestRemaining,
    resetMs: Math.ceil(bestReset / 1000),
  };
}

/** The Redis version of {@link gcra}. KEYS: one per rule; ARGV: now (µs), then per rule: interval (µs), capacity (µs). */
export const GCRA_LUA = `
local now = tonumber(ARGV[1])
local retry = 0
local deny = 0
local best = 1
local bestRem = -1
local bestReset = 0
local tats = {}
for i = 1, #KEYS do
  local t = tonumber(ARGV[i * 2])
  local cap = tonumber(ARGV[i * 2 + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local newTat = tat + t
  local diff = newTat - now
  if diff > cap + 0.000001 and diff - cap > retry then
    retry = diff - cap
    deny = i
  end
  tats[i] = newTat
  local rem = math.floor((cap - diff) / t + 0.000000001)
  if rem < 0 then rem = 0 end
  if bestRem < 0 or rem < bestRem then
    bestRem = rem
    best = i
    bestReset = diff
  end
end
if deny > 0 then
  return {0, math.ceil(retry / 1000), deny, 0, math.ceil(retry / 1000)}
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1000)
end
return {1, 0, best, bestRem, math.ceil(bestReset / 1000)}
`;
