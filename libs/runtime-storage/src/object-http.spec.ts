import { SMALL_OBJECT_BYTES, SmallObjectCache } from './object-http';

describe('SmallObjectCache', () => {
  it('keeps bytes by key within its budget, dropping the least recently used first', () => {
    const cache = new SmallObjectCache(10);
    cache.set('a', Buffer.from('aaaa'));
    cache.set('b', Buffer.from('bbbb'));
    expect(cache.get('a')?.toString()).toBe('aaaa'); // now the most recent
    cache.set('c', Buffer.from('cccc')); // 12 bytes > 10: b goes
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.toString()).toBe('aaaa');
    expect(cache.get('c')?.toString()).toBe('cccc');
  });

  it('never keeps what is larger than a small object or its whole budget', () => {
    const cache = new SmallObjectCache(SMALL_OBJECT_BYTES * 4);
    cache.set('big', Buffer.alloc(SMALL_OBJECT_BYTES + 1));
    expect(cache.get('big')).toBeUndefined();
    const tiny = new SmallObjectCache(3);
    tiny.set('x', Buffer.from('four'));
    expect(tiny.get('x')).toBeUndefined();
  });
});
