import { cronMatches, parseCron } from './cron';

describe('cron', () => {
  const at = (iso: string) => Date.parse(iso);

  it('matches steps, ranges and lists in UTC', () => {
    const c = parseCron('*/15 9-17 * * 1-5');
    expect(cronMatches(c, at('2030-01-07T09:30:00Z'))).toBe(true); // Monday
    expect(cronMatches(c, at('2030-01-07T09:31:00Z'))).toBe(false);
    expect(cronMatches(c, at('2030-01-06T09:30:00Z'))).toBe(false); // Sunday
    expect(cronMatches(c, at('2030-01-07T18:00:00Z'))).toBe(false);
    expect(cronMatches(parseCron('0 0 1,15 * *'), at('2030-03-15T00:00:00Z'))).toBe(true);
    expect(cronMatches(parseCron('0 0 * * 7'), at('2030-01-06T00:00:00Z'))).toBe(true); // 7 is Sunday too
  });

  it('takes either day field when both are restricted (as cron does)', () => {
    const c = parseCron('0 12 1 * 1');
    expect(cronMatches(c, at('2030-01-01T12:00:00Z'))).toBe(true); // the 1st, a Tuesday
    expect(cronMatches(c, at('2030-01-07T12:00:00Z'))).toBe(true); // a Monday
    expect(cronMatches(c, at('2030-01-08T12:00:00Z'))).toBe(false);
  });

  it('refuses malformed expressions with a reason', () => {
    for (const bad of ['* * * *', '60 * * * *', '* 24 * * *', '*/0 * * * *', 'a b c d e', '5-1 * * * *', '* * 0 * *']) expect(() => parseCron(bad)).toThrow(/field|fields/);
  });
});
