import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useParams } from 'react-router';
import { api, unwrap } from '../api/client';
import { Button, CopyField, Empty, ErrorState, Field, fieldError, FormError, formatDate, Loading, PageHeader } from '../components/ui';
import { Modal } from '../components/modal';

interface AuthSettings {
  signup_enabled: boolean;
  email_confirm_required: boolean;
  anonymous_sign_ins: boolean;
  password_min_length: number;
  site_url: string | null;
}

/** The project's end-user auth settings (sign-up, confirmation, password length, site URL). */
export function AuthSettingsPage() {
  const { ref = '' } = useParams();
  const queries = useQueryClient();
  const config = useQuery({ queryKey: ['auth-config', ref], queryFn: () => unwrap<AuthSettings>(api.GET('/v1/projects/{ref}/auth/config', { params: { path: { ref } } })) });
  const [draft, setDraft] = useState<Partial<AuthSettings>>({});
  const save = useMutation({
    mutationFn: () => unwrap<AuthSettings>(api.PATCH('/v1/projects/{ref}/auth/config', { params: { path: { ref } }, body: draft })),
    onSuccess: (c) => {
      queries.setQueryData(['auth-config', ref], c);
      setDraft({});
    },
  });
  if (config.isPending) return <Loading />;
  if (config.isError) return <ErrorState error={config.error} retry={() => void config.refetch()} />;
  const v = { ...config.data, ...draft };
  const toggle = (k: 'signup_enabled' | 'email_confirm_required' | 'anonymous_sign_ins', label: string) => (
    <label className="check block">
      <input type="checkbox" checked={v[k]} onChange={(e) => setDraft({ ...draft, [k]: e.target.checked })} /> {label}
    </label>
  );
  return (
    <>
      <PageHeader title="Auth settings" />
      <form className="panel" onSubmit={(e: FormEvent) => { e.preventDefault(); save.mutate(); }}>
        {toggle('signup_enabled', 'Allow new users to sign up')}
        {toggle('email_confirm_required', 'Require email confirmation before sign-in')}
        {toggle('anonymous_sign_ins', 'Allow anonymous sign-ins')}
        <Field label="Minimum password length" type="number" min={6} max={128} value={v.password_min_length} onChange={(e) => setDraft({ ...draft, password_min_length: Number(e.target.value) })} error={fieldError(save.error, 'password_min_length')} />
        <Field label="Site URL (where emailed links lead)" value={v.site_url ?? ''} onChange={(e) => setDraft({ ...draft, site_url: e.target.value || null })} error={fieldError(save.error, 'site_url')} />
        <FormError error={save.error} />
        <div className="actions left">
          <Button type="submit" busy={save.isPending} disabled={!Object.keys(draft).length}>Save</Button>
          {save.isSuccess ? <span className="ok" role="status">Saved</span> : null}
        </div>
      </form>
      <p className="muted">SMTP, email templates and rate limits: <code>PATCH /v1/projects/{ref}/auth/config</code>.</p>
    </>
  );
}

interface Pat {
  id: string;
  name: string;
  last4: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

/** Personal access tokens for scripts and CI (`Authorization: Bearer` on /v1), shown once. */
export function AccountPage() {
  const queries = useQueryClient();
  const tokens = useQuery({ queryKey: ['pats'], queryFn: () => unwrap<Pat[]>(api.GET('/v1/me/tokens')) });
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [created, setCreated] = useState<(Pat & { token: string }) | null>(null);
  const reload = () => void queries.invalidateQueries({ queryKey: ['pats'] });
  const create = useMutation({
    mutationFn: () => unwrap<Pat & { token: string }>(api.POST('/v1/me/tokens', { body: { name, ...(days ? { expires_in_days: Number(days) } : {}) } })),
    onSuccess: (t) => {
      setCreated(t);
      setName('');
      reload();
    },
  });
  const revoke = useMutation({ mutationFn: (id: string) => unwrap(api.DELETE('/v1/me/tokens/{id}', { params: { path: { id } } })), onSuccess: reload });
  return (
    <main className="content narrow">
      <PageHeader title="Personal access tokens" />
      <form className="inline-form" onSubmit={(e: FormEvent) => { e.preventDefault(); create.mutate(); }}>
        <Field label="Name" value={name} onChange={(e) => setName(e.target.value)} error={fieldError(create.error, 'name')} />
        <Field label="Expires in days (empty: never)" type="number" min={1} max={3650} value={days} onChange={(e) => setDays(e.target.value)} error={fieldError(create.error, 'expires_in_days')} />
        <Button type="submit" busy={create.isPending}>Create token</Button>
      </form>
      <FormError error={create.error ?? revoke.error} />
      {tokens.isPending ? <Loading /> : tokens.isError ? <ErrorState error={tokens.error} /> : !tokens.data.length ? <Empty title="No tokens" /> : (
        <div className="table-wrap">
          <table className="data-table">
            <thead><tr><th>Name</th><th>Token</th><th>Expires</th><th>Last used</th><th /></tr></thead>
            <tbody>
              {tokens.data.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td><td className="mono">…{t.last4}</td><td>{formatDate(t.expires_at)}</td><td>{formatDate(t.last_used_at)}</td>
                  <td><Button variant="ghost" onClick={() => revoke.mutate(t.id)}>Revoke</Button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Modal open={!!created} onOpenChange={() => undefined} title="Copy your token" description="It is shown only once.">
        {created ? <CopyField label={created.name} value={created.token} /> : null}
        <div className="actions"><Button onClick={() => setCreated(null)}>I've saved it</Button></div>
      </Modal>
    </main>
  );
}
