import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Navigate, useNavigate } from 'react-router';
import { api, unwrap } from '../api/client';
import type { Invitation } from '../api/types';
import { useAuth } from '../auth/auth';
import { Button, Empty, ErrorState, Field, fieldError, FormError, formatDate, Loading, PageHeader } from '../components/ui';
import { useOrgs } from './layout';

/** `/`: the first org's projects. */
export function HomeRedirect() {
  const orgs = useOrgs();
  if (orgs.isPending) return <Loading />;
  if (orgs.isError) return <ErrorState error={orgs.error} retry={() => void orgs.refetch()} />;
  if (!orgs.data.length) return <Empty title="You are not in any organization">Create one from the organization menu.</Empty>;
  return <Navigate to={`/orgs/${orgs.data[0].id}`} replace />;
}

/** Invitations to the signed-in address; accepting takes the token from the invitation email. */
export function MyInvitationsPage() {
  const { user } = useAuth();
  const list = useQuery({ queryKey: ['my-invitations'], queryFn: () => unwrap<Invitation[]>(api.GET('/v1/me/invitations')) });
  return (
    <main className="content narrow">
      <PageHeader title="Your invitations" />
      {!user?.email_verified ? <div className="alert alert-warn">Verify your email to see and accept invitations.</div> : null}
      {list.isPending ? <Loading /> : list.isError ? <ErrorState error={list.error} retry={() => void list.refetch()} /> : !list.data.length ? (
        <Empty title="No pending invitations" />
      ) : (
        <ul className="cards">
          {list.data.map((inv) => <InvitationCard key={inv.id} inv={inv} />)}
        </ul>
      )}
    </main>
  );
}

function InvitationCard({ inv }: { inv: Invitation }) {
  const [token, setToken] = useState('');
  const queries = useQueryClient();
  const navigate = useNavigate();
  const accept = useMutation({
    mutationFn: () => unwrap(api.POST('/v1/invitations/{id}/accept', { params: { path: { id: inv.id } }, body: { token: token.trim() } })),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: ['orgs'] });
      await queries.invalidateQueries({ queryKey: ['my-invitations'] });
      if (inv.org_id) navigate(`/orgs/${inv.org_id}`);
    },
  });
  return (
    <li className="card">
      <h2>{inv.org_name ?? 'An organization'}</h2>
      <p className="muted">
        Role <strong>{inv.role}</strong> · expires {formatDate(inv.expires_at)}
      </p>
      <form onSubmit={(e) => { e.preventDefault(); accept.mutate(); }}>
        <Field label="Invitation token (from the email)" value={token} onChange={(e) => setToken(e.target.value)} error={fieldError(accept.error, 'token')} spellCheck={false} />
        <FormError error={accept.error} />
        <Button type="submit" busy={accept.isPending}>Accept invitation</Button>
      </form>
    </li>
  );
}
