import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useParams } from 'react-router';
import { api, unwrap } from '../api/client';
import type { Ok } from '../api/types';
import { Button, Empty, ErrorState, Field, fieldError, FormError, formatDate, Loading, PageHeader, Select } from '../components/ui';
import { Modal, TypedConfirm } from '../components/modal';
import { BAN_DURATIONS, endUserStatus, pageRange } from '../lib/auth-users';

type UsersPage = Ok<'AuthUsersController_list'>;
type EndUser = UsersPage['users'][number];

const PER_PAGE = 20;
const STATUS_TEXT = { banned: 'banned', unconfirmed: 'unconfirmed', anonymous: 'anonymous', active: 'active' } as const;

/** Auth → Users: the project's end users through the management API (GoTrue's admin API takes secret keys only). */
export function AuthUsersPage() {
  const { ref = '' } = useParams();
  const [search, setSearch] = useState('');
  const [applied, setApplied] = useState('');
  const [page, setPage] = useState(1);
  const [creating, setCreating] = useState(false);
  const [banning, setBanning] = useState<EndUser | null>(null);
  const [deleting, setDeleting] = useState<EndUser | null>(null);
  const queries = useQueryClient();
  const users = useQuery({
    queryKey: ['end-users', ref, applied, page],
    queryFn: () => unwrap<UsersPage>(api.GET('/v1/projects/{ref}/auth/users', { params: { path: { ref }, query: { ...(applied ? { search: applied } : {}), page, per_page: PER_PAGE } } })),
    placeholderData: keepPreviousData,
  });
  const reload = () => void queries.invalidateQueries({ queryKey: ['end-users', ref] });
  const patch = useMutation({
    mutationFn: (v: { id: string; body: { ban_duration?: string; email_confirm?: true } }) =>
      unwrap<EndUser>(api.PATCH('/v1/projects/{ref}/auth/users/{id}', { params: { path: { ref, id: v.id } }, body: v.body })),
    onSuccess: () => {
      setBanning(null);
      reload();
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/v1/projects/{ref}/auth/users/{id}', { params: { path: { ref, id } } })),
    onSuccess: () => {
      setDeleting(null);
      reload();
    },
  });
  const range = users.data ? pageRange(page, PER_PAGE, users.data.users.length, users.data.total) : null;
  return (
    <>
      <PageHeader title="Users">
        <Button onClick={() => setCreating(true)}>New user</Button>
      </PageHeader>
      <form className="filter-bar" role="search" onSubmit={(e: FormEvent) => { e.preventDefault(); setPage(1); setApplied(search.trim()); }}>
        <input aria-label="Search users" placeholder="Email or user id" value={search} onChange={(e) => setSearch(e.target.value)} />
        <Button type="submit" variant="secondary">Search</Button>
        {applied ? <Button type="button" variant="ghost" onClick={() => { setSearch(''); setApplied(''); setPage(1); }}>Clear</Button> : null}
      </form>
      <FormError error={banning ? null : (patch.error ?? null)} />
      {users.isPending ? <Loading /> : users.isError ? <ErrorState error={users.error} retry={() => void users.refetch()} /> : !users.data.users.length && page === 1 ? (
        <Empty title={applied ? 'No users match' : 'No users yet'}>{applied ? 'Try part of an address, or a whole user id.' : 'Users appear when they sign up through your app, or create one here.'}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="data-table" aria-label="End users">
            <thead><tr><th>Email</th><th>Status</th><th>Created</th><th>Last sign-in</th><th><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {users.data.users.map((u) => {
                const status = endUserStatus(u);
                const label = u.email || u.id;
                return (
                  <tr key={u.id}>
                    <td className="mono">{u.email || <span className="muted">{u.id}</span>}</td>
                    <td>
                      <span className={`badge${status === 'banned' ? ' badge-warn' : ''}`}>{STATUS_TEXT[status]}</span>
                      {status === 'banned' ? <small className="muted" title={formatDate(u.banned_until)}> until {new Date(u.banned_until!).toLocaleDateString(undefined, { dateStyle: 'medium' })}</small> : null}
                    </td>
                    <td>{formatDate(u.created_at)}</td>
                    <td>{formatDate(u.last_sign_in_at)}</td>
                    <td className="row-actions">
                      {status === 'unconfirmed' ? (
                        <Button variant="secondary" aria-label={`Confirm ${label}`} busy={patch.isPending && patch.variables?.id === u.id && !!patch.variables.body.email_confirm} onClick={() => patch.mutate({ id: u.id, body: { email_confirm: true } })}>Confirm</Button>
                      ) : null}
                      {status === 'banned' ? (
                        <Button variant="secondary" aria-label={`Unban ${label}`} busy={patch.isPending && patch.variables?.id === u.id} onClick={() => patch.mutate({ id: u.id, body: { ban_duration: 'none' } })}>Unban</Button>
                      ) : (
                        <Button variant="secondary" aria-label={`Ban ${label}`} onClick={() => { patch.reset(); setBanning(u); }}>Ban…</Button>
                      )}
                      <Button variant="danger" aria-label={`Delete ${label}`} onClick={() => { remove.reset(); setDeleting(u); }}>Delete…</Button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {range ? (
        <div className="pager">
          <Button variant="secondary" disabled={!range.hasPrev} onClick={() => setPage(page - 1)}>Previous</Button>
          <span className="muted" aria-live="polite">{range.label}</span>
          <Button variant="secondary" disabled={!range.hasNext} onClick={() => setPage(page + 1)}>Next</Button>
        </div>
      ) : null}
      <CreateUserDialog ref_={ref} open={creating} onOpenChange={setCreating} onCreated={reload} />
      <BanDialog user={banning} onOpenChange={(o) => { if (!o) setBanning(null); }} busy={patch.isPending} error={patch.error} onBan={(d) => banning && patch.mutate({ id: banning.id, body: { ban_duration: d } })} />
      <TypedConfirm
        open={!!deleting}
        onOpenChange={(o) => { if (!o) setDeleting(null); }}
        title={`Delete user ${deleting?.email || deleting?.id || ''}?`}
        word={deleting?.email || deleting?.id || ''}
        action="Delete user"
        onConfirm={() => deleting && remove.mutate(deleting.id)}
        busy={remove.isPending}
        error={remove.error}
      />
    </>
  );
}

function BanDialog({ user, onOpenChange, onBan, busy, error }: { user: EndUser | null; onOpenChange: (o: boolean) => void; onBan: (duration: string) => void; busy: boolean; error: unknown }) {
  const [duration, setDuration] = useState('24h');
  return (
    <Modal open={!!user} onOpenChange={onOpenChange} title={`Ban ${user?.email || user?.id || ''}`} description="A ban signs the user out everywhere at once and refuses their sign-ins until it ends.">
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); onBan(duration); }}>
        <Select label="For" value={duration} onChange={setDuration} options={BAN_DURATIONS} error={fieldError(error, 'ban_duration')} />
        <FormError error={error} />
        <div className="actions">
          <Button type="button" variant="secondary" onClick={() => onOpenChange(false)}>Cancel</Button>
          <Button type="submit" variant="danger" busy={busy}>Ban user</Button>
        </div>
      </form>
    </Modal>
  );
}

function CreateUserDialog({ ref_, open, onOpenChange, onCreated }: { ref_: string; open: boolean; onOpenChange: (o: boolean) => void; onCreated: () => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [confirmed, setConfirmed] = useState(true);
  const m = useMutation({
    mutationFn: () =>
      unwrap<EndUser>(api.POST('/v1/projects/{ref}/auth/users', { params: { path: { ref: ref_ } }, body: { email, ...(password ? { password } : {}), email_confirm: confirmed } })),
    onSuccess: () => {
      setEmail('');
      setPassword('');
      setConfirmed(true);
      onOpenChange(false);
      m.reset();
      onCreated();
    },
  });
  return (
    <Modal open={open} onOpenChange={(o) => { m.reset(); onOpenChange(o); }} title="New user" description="Without a password the user signs in with a magic link or a code.">
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); m.mutate(); }}>
        <Field label="Email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} error={fieldError(m.error, 'email')} autoFocus autoComplete="off" />
        <Field label="Password (optional)" type="password" value={password} onChange={(e) => setPassword(e.target.value)} error={fieldError(m.error, 'password')} autoComplete="new-password" hint="Checked against the project's password rules." />
        <label className="check"><input type="checkbox" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} /> Address already confirmed</label>
        <FormError error={m.error} />
        <div className="actions">
          <Button type="button" variant="secondary" onClick={() => onOpenChange(false)}>Cancel</Button>
          <Button type="submit" busy={m.isPending}>Create user</Button>
        </div>
      </form>
    </Modal>
  );
}
