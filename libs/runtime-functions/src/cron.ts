/** A parsed 5-field cron expression (minute hour day-of-month month day-of-week, UTC). */
export interface Cron {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  anyDay: boolean;
  anyWeekday: boolean;
}

const FIELDS: Array<[number, number]> = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

/** Parses `*`, numbers, ranges, lists and steps; throws an Error saying what is wrong. */
export function parseCron(expr: string): Cron {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error('a cron expression has 5 fields: minute hour day-of-month month day-of-week');
  const sets = parts.map((p, i) => field(p, FIELDS[i][0], FIELDS[i][1], i));
  if (sets[4].has(7)) sets[4].add(0);
  return { minutes: sets[0], hours: sets[1], days: sets[2], months: sets[3], weekdays: sets[4], anyDay: parts[2] === '*', anyWeekday: parts[4] === '*' };
}

function field(text: string, min: number, max: number, index: number): Set<number> {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^(\*|\d+(?:-\d+)?)(?:\/(\d+))?$/.exec(item);
    if (!m) throw new Error(`field ${index + 1} ("${text.slice(0, 20)}") is not valid`);
    let lo = min;
    let hi = max;
    if (m[1] !== '*') {
      const [a, b] = m[1].split('-').map(Number);
      lo = a;
      hi = b ?? (m[2] ? max : a);
    }
    const step = m[2] ? Number(m[2]) : 1;
    if (lo < min || hi > max || lo > hi || step < 1) throw new Error(`field ${index + 1} ("${text.slice(0, 20)}") is out of range ${min}-${max}`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Whether the cron fires in the UTC minute starting at `ms`. */
export function cronMatches(c: Cron, ms: number): boolean {
  const d = new Date(ms);
  if (!c.minutes.has(d.getUTCMinutes()) || !c.hours.has(d.getUTCHours()) || !c.months.has(d.getUTCMonth() + 1)) return false;
  const dom = c.days.has(d.getUTCDate());
  const dow = c.weekdays.has(d.getUTCDay());
  // As in Vixie cron: when both day fields are restricted, either may match.
  if (!c.anyDay && !c.anyWeekday) return dom || dow;
  return dom && dow;
}
