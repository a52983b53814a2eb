import { describe, expect, it } from 'vitest';
import { describeRule, describeRules, describeValue } from './rules-preview';

describe('rules preview', () => {
  it('reads an owner-only rule as "their id"', () => {
    expect(describeRule({ role: 'authenticated', action: 'read', where: { owner_id: '$auth.uid' } })).toBe(
      'Signed-in users can read rows where owner_id is their id',
    );
  });

  it('lists several actions and conditions with "and"', () => {
    expect(
      describeRule({ role: 'authenticated', action: ['read', 'update', 'delete'], where: { owner_id: '$auth.uid', archived: false } }),
    ).toBe('Signed-in users can read, update and delete rows where owner_id is their id and archived is false');
  });

  it('spells operators, claims and column limits', () => {
    expect(
      describeRule({ role: 'anon', action: 'read', where: { stars: { $gte: 3 }, team: { $in: ['$auth.claims.team', 'public'] } }, columns: ['id', 'title'] }),
    ).toBe('Anyone with the publishable key can read rows where stars is at least 3 and team is one of [their team claim, "public"] (columns id, title only)');
  });

  it('says what null means', () => {
    expect(describeRule({ role: 'anon', action: 'read', where: { deleted_at: null } })).toBe('Anyone with the publishable key can read rows where deleted_at is empty');
    expect(describeRule({ role: 'anon', action: 'read', where: { deleted_at: { $ne: null } } })).toBe(
      'Anyone with the publishable key can read rows where deleted_at is not empty',
    );
  });

  it('warns that a table without rules is server-only', () => {
    expect(describeRules([])).toEqual(['No rules: only server keys (secret or restricted) can reach this table.']);
  });

  it('notes that signed-out callers get nothing when only signed-in rules exist', () => {
    expect(describeRules([{ role: 'authenticated', action: 'create' }])).toEqual([
      'Signed-in users can create rows',
      'Anyone without a signed-in user can do nothing.',
    ]);
  });

  it('quotes literal strings so they are not mistaken for words', () => {
    expect(describeValue('open')).toBe('"open"');
    expect(describeValue('$auth.role')).toBe('their role');
  });
});

describe('bucket rules preview', () => {
  it('reads the per-user folder rule', () => {
    expect(describeRule({ role: 'authenticated', action: ['read', 'create'], where: { path: { $startsWith: '$auth.uid/' } } }, 'files')).toBe(
      'Signed-in users can read and create files where path starts with their id followed by "/"',
    );
  });

  it('names the bucket when it has no rules', () => {
    expect(describeRules([], { noun: 'files', place: 'bucket' })).toEqual(['No rules: only server keys (secret or restricted) can reach this bucket.']);
  });
});
