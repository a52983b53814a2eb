import { JobRegistry, QUEUES } from '@plinth/jobs';
import { PRUNE_CREDENTIALS_JOB, PruneCredentialsJob } from '@plinth/identity';
import { bootTestApp, signup, signupVerified, TestApp } from '../support/test-app';

const DAY = 86_400_000;

describe('identity prunes dead credentials (PruneCredentialsJob)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootTestApp();
  });
  afterAll(() => t.close());

  it('is scheduled hourly on the maintenance queue', () => {
    expect(t.app.get(JobRegistry).schedules()).toContainEqual(expect.objectContaining({ queue: QUEUES.maintenance, name: PRUNE_CREDENTIALS_JOB, everyMs: 3600_000 }));
  });

  it('deletes expired refresh tokens and invitations revoked over a week ago, and keeps live ones', async () => {
    const owner = await signupVerified(t, 'prune-owner');
    const other = await signup(t, 'prune-other');
    const stale = await t.http().post(`/v1/orgs/${owner.orgId}/invitations`).set(owner.auth).send({ email: 'stale@example.com', role: 'developer' }).expect(201);
    const fresh = await t.http().post(`/v1/orgs/${owner.orgId}/invitations`).set(owner.auth).send({ email: 'fresh@example.com', role: 'developer' }).expect(201);
    const now = t.clock.nowMs();
    await t.sql.query('UPDATE control.org_invitations SET revoked_at = $2 WHERE id = $1', [stale.body.id, new Date(now - 8 * DAY)]);
    await t.sql.query('UPDATE control.refresh_tokens SET expires_at = $2 WHERE user_id = $1', [owner.id, new Date(now - 1000)]);

    const result = await t.app.get(PruneCredentialsJob).run();

    expect(result.invitations).toBeGreaterThanOrEqual(1);
    expect(result.refreshTokens).toBeGreaterThanOrEqual(1);
    const invitations = await t.sql.query('SELECT id FROM control.org_invitations WHERE id = ANY($1::uuid[])', [[stale.body.id, fresh.body.id]]);
    expect(invitations.rows.map((r: { id: string }) => r.id)).toEqual([fresh.body.id]);
    expect((await t.sql.query('SELECT count(*)::int AS n FROM control.refresh_tokens WHERE user_id = $1', [owner.id])).rows[0].n).toBe(0);
    expect((await t.sql.query('SELECT count(*)::int AS n FROM control.refresh_tokens WHERE user_id = $1', [other.id])).rows[0].n).toBeGreaterThan(0);
  });
});
