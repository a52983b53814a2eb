import { addMonths, allocate, amountFor, hoursOfPeriod, meterAmount, meterEventIdentifier, priceModel, prorate } from './price-book';
import { delinquency } from './delinquency';

describe('price book arithmetic', () => {
  it('prices usage past the included amount, per unit with fractional cents, rounding the line once', () => {
    const p = { included: 5_000_000, unit_price: '0.0002' };
    expect(meterAmount(p, 4_000_000)).toBe(0);
    expect(meterAmount(p, 5_000_000)).toBe(0);
    expect(meterAmount(p, 6_000_000)).toBe(200);
    // 53687091200 bytes over × 0.0000000084 = 450.97 → 451
    expect(meterAmount({ included: 268435456000, unit_price: '0.0000000084' }, 268435456000 + 53687091200)).toBe(451);
  });

  it('models included amounts as a free first graduated tier, as Stripe gets it', () => {
    expect(priceModel({ included: 10, unit_price: '5' })).toEqual({
      billingScheme: 'tiered',
      unitAmount: '0',
      tiers: [
        { upTo: 10, unitAmount: '0', flatAmount: 0 },
        { upTo: null, unitAmount: '5', flatAmount: 0 },
      ],
    });
    expect(priceModel({ included: 0, unit_price: '0.5' })).toEqual({ billingScheme: 'per_unit', unitAmount: '0.5', tiers: [] });
  });

  it('applies overage tiers relative to the included amount', () => {
    const p = { included: 100, unit_price: '0', tiers: [{ up_to: 50, unit_price: '2' }, { up_to: null, unit_price: '1', flat_minor: 10 }] };
    expect(meterAmount(p, 100)).toBe(0);
    expect(meterAmount(p, 130)).toBe(60);
    expect(meterAmount(p, 170)).toBe(100 + 20 + 10);
    expect(amountFor(priceModel(p), 0)).toBe(0);
  });

  it('prorates by the unused share of the period in whole seconds', () => {
    const start = new Date('2030-01-01T00:00:00Z');
    const end = new Date('2030-01-31T00:00:00Z');
    expect(prorate(3000, start, end, new Date('2030-01-16T00:00:00Z'))).toBe(1500);
    expect(prorate(3000, start, end, end)).toBe(0);
  });

  it('splits an amount over projects exactly (largest remainder)', () => {
    const parts = allocate(100, [['a', 1], ['b', 1], ['c', 1]]);
    expect([...parts.values()].reduce((s, v) => s + v, 0)).toBe(100);
    expect(parts.get('a')).toBe(34);
    expect(allocate(0, [['a', 5]]).get('a')).toBe(0);
    expect(allocate(7, [['a', 0], ['b', 3]]).get('b')).toBe(7);
  });

  it('adds months like Stripe anchors do and attributes hours by their last second', () => {
    expect(addMonths(new Date('2030-01-31T10:00:00Z'), 1).toISOString()).toBe('2030-02-28T10:00:00.000Z');
    const h = hoursOfPeriod(new Date('2030-01-01T10:30:00Z'), new Date('2030-02-01T10:30:00Z'));
    expect(h.from.toISOString()).toBe('2030-01-01T10:00:00.000Z');
    expect(h.to.toISOString()).toBe('2030-02-01T10:00:00.000Z');
    const aligned = hoursOfPeriod(new Date('2030-01-01T00:00:00Z'), new Date('2030-02-01T00:00:00Z'));
    expect(aligned.from.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    expect(aligned.to.toISOString()).toBe('2030-02-01T00:00:00.000Z');
    expect(meterEventIdentifier('org', 'requests', new Date('2030-01-01T10:00:00Z'))).toBe('org:requests:2030-01-01T10');
    expect(meterEventIdentifier('org', 'requests', new Date('2030-01-01T10:00:00Z'), 2)).toBe('org:requests:2030-01-01T10:c2');
  });
});

describe('delinquency timeline', () => {
  const day = 86_400_000;
  const since = new Date('2030-01-01T00:00:00Z');
  it('goes grace → read-only → suspended with the clock, and ok without a failure', () => {
    expect(delinquency(null, since.getTime(), 7, 14).state).toBe('ok');
    expect(delinquency(since, since.getTime() + 6 * day, 7, 14).state).toBe('grace');
    expect(delinquency(since, since.getTime() + 7 * day, 7, 14).state).toBe('read_only');
    expect(delinquency(since, since.getTime() + 21 * day - 1, 7, 14).state).toBe('read_only');
    expect(delinquency(since, since.getTime() + 21 * day, 7, 14).state).toBe('suspended');
  });
});
