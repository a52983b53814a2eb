/**
 * Columns the auth tables gained after they first shipped (issue 18). Kept apart from `createAuthTables` so a new
 * project gets them from the same one-round-trip DDL and existing projects from migration 1765000600000, which
 * runs the same statements (they are idempotent). The auth role's table grants cover new columns.
 *
 * - `_auth_users.invited_at`: when `POST /invite` last mailed the user (GoTrue's user field).
 * - `_auth_refresh_tokens.revoked_at`: when a token was exchanged; a replay within the project's reuse interval
 *   is a client race (two tabs), not theft.
 * - `_auth_sessions.refresh_token_sealed`: the session's current refresh token, sealed (AES-GCM, per project),
 *   so a replay within the interval gets the same token the first exchange returned (only hashes are stored
 *   otherwise, and a hash can't be handed back).
 */
export function authColumnAdditions(schema: string): string {
  const q = (t: string) => `"${schema}"."${t}"`;
  return `
    ALTER TABLE ${q('_auth_users')} ADD COLUMN IF NOT EXISTS invited_at timestamptz;
    ALTER TABLE ${q('_auth_refresh_tokens')} ADD COLUMN IF NOT EXISTS revoked_at timestamptz;
    ALTER TABLE ${q('_auth_sessions')} ADD COLUMN IF NOT EXISTS refresh_token_sealed text;
  `;
}
