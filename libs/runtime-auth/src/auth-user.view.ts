/** A row of `_auth_users`, with its identities aggregated. */
export interface UserRow {
  id: string;
  email: string | null;
  encrypted_password: string | null;
  email_confirmed_at: Date | null;
  confirmation_sent_at: Date | null;
  new_email: string | null;
  is_anonymous: boolean;
  banned_until: Date | null;
  user_metadata: Record<string, unknown>;
  app_metadata: Record<string, unknown>;
  last_sign_in_at: Date | null;
  /** When `POST /invite` last mailed the user. */
  invited_at?: Date | null;
  created_at: Date;
  updated_at: Date;
  identities?: IdentityRow[];
}

export interface IdentityRow {
  id: string;
  user_id: string;
  provider: string;
  provider_id: string;
  identity_data: Record<string, unknown>;
  created_at: string | Date;
  updated_at: string | Date;
}

const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : undefined);

/** The user object GoTrue returns (and supabase-js types as `User`). */
export function userView(u: UserRow): Record<string, unknown> {
  const providers = [...new Set((u.identities ?? []).map((i) => i.provider))];
  const view: Record<string, unknown> = {
    id: u.id,
    aud: 'authenticated',
    role: 'authenticated',
    email: u.email ?? '',
    email_confirmed_at: iso(u.email_confirmed_at),
    phone: '',
    confirmation_sent_at: iso(u.confirmation_sent_at),
    confirmed_at: iso(u.email_confirmed_at),
    last_sign_in_at: iso(u.last_sign_in_at),
    app_metadata: appMetadata(u, providers),
    user_metadata: u.user_metadata ?? {},
    identities: (u.identities ?? []).map((i) => ({
      identity_id: i.id,
      id: i.provider_id,
      user_id: i.user_id,
      identity_data: i.identity_data,
      provider: i.provider,
      last_sign_in_at: iso(u.last_sign_in_at),
      created_at: iso(i.created_at),
      updated_at: iso(i.updated_at),
      email: typeof i.identity_data.email === 'string' ? i.identity_data.email : undefined,
    })),
    created_at: iso(u.created_at),
    updated_at: iso(u.updated_at),
    is_anonymous: u.is_anonymous,
  };
  if (u.new_email) view.new_email = u.new_email;
  if (u.invited_at) view.invited_at = iso(u.invited_at);
  if (u.banned_until && u.banned_until.getTime() > Date.now()) view.banned_until = iso(u.banned_until);
  return view;
}

/** `provider`/`providers` as GoTrue derives them, plus what an admin stored. */
export function appMetadata(u: UserRow, providers = [...new Set((u.identities ?? []).map((i) => i.provider))]): Record<string, unknown> {
  const provider = u.is_anonymous && providers.length === 0 ? 'anonymous' : (providers[0] ?? 'email');
  return { ...u.app_metadata, provider, providers: providers.length ? providers : [provider] };
}

/** A plausible user for a sign-up that must not reveal the address is taken (GoTrue does the same). */
export function obfuscatedUser(id: string, email: string, metadata: Record<string, unknown>): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    id, aud: 'authenticated', role: 'authenticated', email, phone: '', confirmation_sent_at: now,
    app_metadata: { provider: 'email', providers: ['email'] }, user_metadata: metadata, identities: [],
    created_at: now, updated_at: now, is_anonymous: false,
  };
}
