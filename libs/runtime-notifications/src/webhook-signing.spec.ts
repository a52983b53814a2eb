import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, signWebhook, WEBHOOK_MAX_ATTEMPTS, webhookRetryDelayMs } from './webhook-signing';

describe(signWebhook.name, () => {
  it('signs as the standardwebhooks package verifies, with every given secret', () => {
    const [a, b] = [newWebhookSecret(), newWebhookSecret()];
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ type: 'x', data: { n: 1 } });
    const headers = signWebhook([a, b], 'msg_1', now, body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(a).verify(body, headers)).toEqual({ type: 'x', data: { n: 1 } });
    expect(new Webhook(b).verify(body, headers)).toEqual({ type: 'x', data: { n: 1 } });
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(a).verify(body + ' ', headers)).toThrow();
  });
});

describe(webhookRetryDelayMs.name, () => {
  it('spaces eight attempts over about a day, with ±20 % jitter, and stops after the eighth', () => {
    expect(WEBHOOK_MAX_ATTEMPTS).toBe(8);
    expect(webhookRetryDelayMs(1, 0.5)).toBe(5_000);
    expect(webhookRetryDelayMs(1, 0)).toBe(4_000);
    expect(webhookRetryDelayMs(1, 1)).toBe(6_000);
    let total = 0;
    for (let n = 1; n < 8; n++) total += webhookRetryDelayMs(n, 0.5)!;
    expect(total / 3_600_000).toBeGreaterThan(24);
    expect(total / 3_600_000).toBeLessThan(30);
    expect(webhookRetryDelayMs(8)).toBeUndefined();
  });
});
