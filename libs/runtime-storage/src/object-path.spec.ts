import { bucketId, listPrefix, objectName } from './object-path';
import { StorageException } from './storage.exception';

describe('object names', () => {
  it.each(['../x', 'a/../b', '..', '.', 'a/./b', 'a//b', '/a', 'a/', 'a\\b', 'a\u0000b', 'a\u001fb', 'x'.repeat(1025), '\ud800'])('refuses %j with 400', (name) => {
    expect(() => objectName(name)).toThrow(StorageException);
    try {
      objectName(name);
    } catch (e) {
      expect((e as StorageException).status).toBe(400);
    }
  });

  it.each(['a.txt', 'folder/sub/file.png', 'naïve café/ü.txt', '..a/b..', 'x'.repeat(1024)])('accepts %j', (name) => {
    expect(objectName(name)).toBe(name);
  });

  it('validates bucket ids and list prefixes', () => {
    expect(bucketId('avatars')).toBe('avatars');
    for (const bad of ['..', 'a/b', '', '.hidden', 'a..b', 'x'.repeat(64)]) expect(() => bucketId(bad)).toThrow(StorageException);
    expect(listPrefix('folder/')).toBe('folder');
    expect(listPrefix('')).toBe('');
    expect(() => listPrefix('../x')).toThrow(StorageException);
  });
});
