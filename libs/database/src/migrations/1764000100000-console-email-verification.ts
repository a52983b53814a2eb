import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Console email verification. `users.email_verified_at` stays NULL for every account that existed before: nothing
 * ever proved those addresses, so they verify like new ones before accepting or sending invitations.
 * A verification row holds only hashes: the emailed code and link token are derived from PLINTH_SECRET and the
 * row id when the email is sent, never stored. The code's hash is keyed (HMAC), so a database reader can't
 * brute-force its 10^6 values offline; `attempts` kills a code after a few wrong tries.
 */
export class ConsoleEmailVerification1764000100000 implements MigrationInterface {
  name = 'ConsoleEmailVerification1764000100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE control.users ADD COLUMN email_verified_at timestamptz;

      CREATE TABLE control.email_verifications (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES control.users(id) ON DELETE CASCADE,
        -- The address this row proves (the account's address when it was issued).
        email text NOT NULL,
        code_hash text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        attempts integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        consumed_at timestamptz
      );
      CREATE INDEX email_verifications_user_idx ON control.email_verifications (user_id, created_at DESC);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE control.email_verifications;
      ALTER TABLE control.users DROP COLUMN email_verified_at;
    `);
  }
}
