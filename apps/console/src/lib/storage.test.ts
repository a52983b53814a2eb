import { describe, expect, it } from 'vitest';
import { breadcrumbs, bucketRuleFromDraft, encodePath, folderPrefix, formatBytes, sizeLimitValue } from './storage';

describe('object browser helpers', () => {
  it('encodes each path segment but keeps the folders', () => {
    expect(encodePath('my docs/a#1.txt')).toBe('my%20docs/a%231.txt');
  });

  it('turns a prefix into breadcrumbs and back', () => {
    expect(breadcrumbs('photos/2024/')).toEqual([
      { name: 'photos', prefix: 'photos/' },
      { name: '2024', prefix: 'photos/2024/' },
    ]);
    expect(breadcrumbs('')).toEqual([]);
    expect(folderPrefix([])).toBe('');
  });

  it('sends size limits as the API takes them', () => {
    expect(sizeLimitValue(' ')).toBeNull();
    expect(sizeLimitValue('1MB')).toBe('1MB');
    expect(sizeLimitValue('512')).toBe(512);
  });

  it('shows sizes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(null)).toBe('—');
  });
});

describe('bucket rule drafts', () => {
  it('parses the conditions, or says why not', () => {
    expect(bucketRuleFromDraft({ role: 'authenticated', actions: ['read'], where: '{"path":{"$startsWith":"$auth.uid/"}}' })).toEqual({
      rule: { role: 'authenticated', action: ['read'], where: { path: { $startsWith: '$auth.uid/' } } },
    });
    expect(bucketRuleFromDraft({ role: 'anon', actions: ['read'], where: ' ' })).toEqual({ rule: { role: 'anon', action: ['read'] } });
    expect(bucketRuleFromDraft({ role: 'anon', actions: ['read'], where: '{"path":' })).toEqual({ problem: 'Conditions are not valid JSON' });
    expect(bucketRuleFromDraft({ role: 'anon', actions: ['read'], where: '[1]' })).toEqual({ problem: 'Conditions must be a JSON object' });
  });
});

describe('signed URLs', () => {
  it("makes the API's signed path a full URL under the project's storage API, encoding what the name holds", async () => {
    const { signedUrl, SIGNED_URL_EXPIRIES } = await import('./storage');
    expect(signedUrl('https://console.example', 'abc', '/object/sign/docs/a b/r.pdf?token=x.y-z')).toBe('https://console.example/p/abc/storage/v1/object/sign/docs/a%20b/r.pdf?token=x.y-z');
    for (const e of SIGNED_URL_EXPIRIES) expect(Number(e.value)).toBeGreaterThan(0);
  });
});
