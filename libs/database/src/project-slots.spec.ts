import { ErrorCode, PlinthException } from '@plinth/common';
import { ProjectSlots } from './project-slots';

describe(ProjectSlots.name, () => {
  const limits = { maxShare: 2, queue: 2, queueWaitMs: 60_000 };

  it('admits up to the share at once, then queues the project FIFO and hands each freed slot to its oldest waiter', async () => {
    const sut = new ProjectSlots(limits);
    expect(sut.enter('a')).toBeUndefined();
    expect(sut.enter('a')).toBeUndefined();
    const order: string[] = [];
    const third = sut.enter('a')!.then(() => order.push('third'));
    const fourth = sut.enter('a')!.then(() => order.push('fourth'));
    // Another project is not held up by a's queue.
    expect(sut.enter('b')).toBeUndefined();
    sut.leave('a');
    await third;
    expect(order).toEqual(['third']);
    sut.leave('a');
    await fourth;
    expect(order).toEqual(['third', 'fourth']);
    // Every slot back: the share is free again.
    sut.leave('a');
    sut.leave('a');
    expect(sut.enter('a')).toBeUndefined();
    expect(sut.enter('a')).toBeUndefined();
  });

  it('refuses at once with a 429 and Retry-After when the project already has a full queue', () => {
    const sut = new ProjectSlots({ ...limits, queueWaitMs: 10 });
    sut.enter('a');
    sut.enter('a');
    void sut.enter('a')!.catch(() => undefined);
    void sut.enter('a')!.catch(() => undefined);
    let refused: unknown;
    try {
      sut.enter('a');
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(PlinthException);
    expect(refused).toMatchObject({ code: ErrorCode.ConcurrencyLimited, status: 429, headers: { 'retry-after': '1' } });
  });

  it('refuses a queued request after the longest wait, and the slot it never took stays free for the others', async () => {
    const sut = new ProjectSlots({ maxShare: 1, queue: 5, queueWaitMs: 20 });
    sut.enter('a');
    await expect(sut.enter('a')).rejects.toMatchObject({ code: ErrorCode.ConcurrencyLimited });
    const next = sut.enter('a')!;
    sut.leave('a');
    await expect(next).resolves.toBeUndefined();
    sut.leave('a');
    expect(sut.enter('a')).toBeUndefined();
  });

  it('with no queue, a project at its share is refused at once', () => {
    const sut = new ProjectSlots({ maxShare: 1, queue: 0, queueWaitMs: 1000 });
    sut.enter('a');
    expect(() => sut.enter('a')).toThrow(PlinthException);
  });
});
