import { describe, expect, it } from 'vitest';
import { BAN_DURATIONS, endUserStatus, pageRange } from './auth-users';

describe('end users', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('says banned while banned_until is ahead, then falls back to the address state', () => {
    expect(endUserStatus({ email_confirmed_at: '2025-01-01T00:00:00Z', banned_until: '2026-01-02T00:00:00Z' }, now)).toBe('banned');
    expect(endUserStatus({ email_confirmed_at: '2025-01-01T00:00:00Z', banned_until: '2025-12-31T00:00:00Z' }, now)).toBe('active');
    expect(endUserStatus({ email: 'a@b.co' }, now)).toBe('unconfirmed');
    expect(endUserStatus({ is_anonymous: true }, now)).toBe('anonymous');
  });

  it('offers ban lengths the API accepts (Go durations in hours)', () => {
    for (const d of BAN_DURATIONS) expect(d.value).toMatch(/^\d+h$/);
  });

  it('pages: range label and whether previous/next exist', () => {
    expect(pageRange(1, 20, 20, 57)).toEqual({ label: '1–20 of 57', hasPrev: false, hasNext: true });
    expect(pageRange(3, 20, 17, 57)).toEqual({ label: '41–57 of 57', hasPrev: true, hasNext: false });
    expect(pageRange(1, 20, 0, 0)).toEqual({ label: '', hasPrev: false, hasNext: false });
    expect(pageRange(4, 20, 0, 57).hasPrev).toBe(true);
  });
});
