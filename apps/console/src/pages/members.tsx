import * as Tabs from '@radix-ui/react-tabs';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useParams } from 'react-router';
import { api, unwrap } from '../api/client';
import type { AuditPage, Invitation, Member } from '../api/types';
import { useAuth } from '../auth/auth';
import { Button, Empty, ErrorState, Field, fieldError, FormError, formatDate, Loading, PageHeader, Select } from '../components/ui';

const ROLES = ['owner', 'admin', 'developer', 'billing', 'viewer'].map((r) => ({ value: r, label: r }));

export function MembersPage() {
  const { orgId = '' } = useParams();
  return (
    <>
      <PageHeader title="Members" />
      <Tabs.Root defaultValue="members" className="tabs">
        <Tabs.List className="tab-list" aria-label="Members, invitations and audit log">
          <Tabs.Trigger value="members" className="tab">Members</Tabs.Trigger>
          <Tabs.Trigger value="invitations" className="tab">Invitations</Tabs.Trigger>
          <Tabs.Trigger value="audit" className="tab">Audit log</Tabs.Trigger>
        </Tabs.List>
        <Tabs.Content value="members"><MembersTab orgId={orgId} /></Tabs.Content>
        <Tabs.Content value="invitations"><InvitationsTab orgId={orgId} /></Tabs.Content>
        <Tabs.Content value="audit"><AuditTab orgId={orgId} /></Tabs.Content>
      </Tabs.Root>
    </>
  );
}

function MembersTab({ orgId }: { orgId: string }) {
  const { user } = useAuth();
  const queries = useQueryClient();
  // Always fresh when the tab opens: members join from elsewhere (an accepted invitation).
  const members = useQuery({ queryKey: ['members', orgId], staleTime: 0, queryFn: () => unwrap<Member[]>(api.GET('/v1/orgs/{orgId}/members', { params: { path: { orgId } } })) });
  const reload = () => void queries.invalidateQueries({ queryKey: ['members', orgId] });
  const role = useMutation({
    mutationFn: (v: { userId: string; role: string }) =>
      unwrap(api.PATCH('/v1/orgs/{orgId}/members/{userId}', { params: { path: { orgId, userId: v.userId } }, body: { role: v.role as 'viewer' } })),
    onSuccess: reload,
  });
  const remove = useMutation({
    mutationFn: (userId: string) => unwrap(api.DELETE('/v1/orgs/{orgId}/members/{userId}', { params: { path: { orgId, userId } } })),
    onSuccess: reload,
  });
  if (members.isPending) return <Loading />;
  if (members.isError) return <ErrorState error={members.error} retry={() => void members.refetch()} />;
  return (
    <>
      <FormError error={role.error ?? remove.error} />
      <div className="table-wrap">
        <table className="data-table">
          <thead><tr><th>Member</th><th>Role</th><th><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {members.data.map((m) => (
              <tr key={m.user_id}>
                <td>{m.name ? `${m.name} · ` : ''}{m.email}{m.user_id === user?.id ? ' (you)' : ''}</td>
                <td>
                  <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => role.mutate({ userId: m.user_id, role: e.target.value })}>
                    {ROLES.map((r) => <option key={r.value}>{r.value}</option>)}
                  </select>
                </td>
                <td>
                  <Button variant="ghost" onClick={() => { if (window.confirm(`Remove ${m.email} from the organization?`)) remove.mutate(m.user_id); }}>
                    {m.user_id === user?.id ? 'Leave' : 'Remove'}
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function InvitationsTab({ orgId }: { orgId: string }) {
  const queries = useQueryClient();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('developer');
  const list = useQuery({ queryKey: ['invitations', orgId], queryFn: () => unwrap<Invitation[]>(api.GET('/v1/orgs/{orgId}/invitations', { params: { path: { orgId } } })) });
  const reload = () => void queries.invalidateQueries({ queryKey: ['invitations', orgId] });
  const invite = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/orgs/{orgId}/invitations', { params: { path: { orgId } }, body: { email, role: role as 'viewer' } })),
    onSuccess: () => {
      setEmail('');
      reload();
    },
  });
  const revoke = useMutation({ mutationFn: (id: string) => unwrap(api.DELETE('/v1/orgs/{orgId}/invitations/{id}', { params: { path: { orgId, id } } })), onSuccess: reload });
  return (
    <>
      <form className="inline-form" onSubmit={(e: FormEvent) => { e.preventDefault(); invite.mutate(); }}>
        <Field label="Email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} error={fieldError(invite.error, 'email')} />
        <Select label="Role" value={role} onChange={setRole} options={ROLES} error={fieldError(invite.error, 'role')} />
        <Button type="submit" busy={invite.isPending}>Send invitation</Button>
      </form>
      <FormError error={invite.error ?? revoke.error} />
      {invite.isSuccess ? <p className="ok" role="status">Invitation sent. It carries a token the invitee pastes when accepting.</p> : null}
      {list.isPending ? <Loading /> : list.isError ? <ErrorState error={list.error} /> : !list.data.length ? (
        <Empty title="No pending invitations" />
      ) : (
        <div className="table-wrap">
          <table className="data-table">
            <thead><tr><th>Email</th><th>Role</th><th>Expires</th><th /></tr></thead>
            <tbody>
              {list.data.map((i) => (
                <tr key={i.id}>
                  <td>{i.email}</td><td>{i.role}</td><td>{formatDate(i.expires_at)}</td>
                  <td><Button variant="ghost" onClick={() => revoke.mutate(i.id)}>Revoke</Button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function AuditTab({ orgId }: { orgId: string }) {
  const [action, setAction] = useState('');
  const log = useInfiniteQuery({
    queryKey: ['audit', orgId],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap<AuditPage>(api.GET('/v1/orgs/{orgId}/audit-log', { params: { path: { orgId }, query: { limit: 50, ...(pageParam ? { before: pageParam } : {}) } as never } })),
    getNextPageParam: (last) => last.next_before ?? undefined,
  });
  if (log.isPending) return <Loading />;
  if (log.isError) return <ErrorState error={log.error} retry={() => void log.refetch()} />;
  // The API pages by time; the action filter narrows what is loaded.
  const entries = log.data.pages.flatMap((p) => p.entries).filter((e) => !action || e.action.includes(action));
  return (
    <>
      <div className="filter-bar">
        <Field label="Filter by action" value={action} onChange={(e) => setAction(e.target.value)} placeholder="e.g. project. or api_key.revoke" />
      </div>
      {!entries.length ? <Empty title="No entries" /> : (
        <div className="table-wrap">
          <table className="data-table">
            <thead><tr><th>When</th><th>Action</th><th>Actor</th><th>Target</th><th>IP</th></tr></thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id}>
                  <td>{formatDate(e.created_at)}</td>
                  <td className="mono">{e.action}</td>
                  <td>{e.actor.type}{e.actor.id ? ` ${e.actor.id.slice(0, 8)}` : ''}</td>
                  <td>{e.target.type ?? ''} <span className="mono">{e.target.id ?? ''}</span></td>
                  <td className="mono">{e.ip ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {log.hasNextPage ? <Button variant="secondary" onClick={() => void log.fetchNextPage()} busy={log.isFetchingNextPage}>Load older</Button> : null}
    </>
  );
}
