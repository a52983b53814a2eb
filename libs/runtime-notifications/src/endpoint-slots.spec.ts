import { EndpointSlots } from './endpoint-slots';

describe(EndpointSlots.name, () => {
  it('keeps at most `max` runs per endpoint in flight, in arrival order, and endpoints apart', async () => {
    const sut = new EndpointSlots();
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    const job = (i: number) => async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      order.push(i);
      active--;
    };
    const other = sut.run('b', 1, async () => 'other');
    await Promise.all([...Array(10).keys()].map((i) => sut.run('a', 3, job(i))));
    expect(peak).toBe(3);
    expect(order.slice(0, 3).sort()).toEqual([0, 1, 2]);
    expect(await other).toBe('other');
  });
});
