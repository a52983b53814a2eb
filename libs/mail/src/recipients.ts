/** Anything with `query` (a DataSource or an EntityManager). */
interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** Who gets an org's billing and usage emails: its owners and billing members, by address. */
export async function orgBillingRecipients(db: Queryable, orgId: string): Promise<string[]> {
  const rows = (await db.query(
    `SELECT u.email FROM control.org_members m JOIN control.users u ON u.id = m.user_id
      WHERE m.org_id = $1 AND m.role IN ('owner', 'billing') ORDER BY u.email`,
    [orgId],
  )) as Array<{ email: string }>;
  return rows.map((r) => r.email);
}
