import * as DropdownMenu from '@radix-ui/react-dropdown-menu';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, NavLink, Outlet, useNavigate, useParams } from 'react-router';
import { api, unwrap } from '../api/client';
import type { Org, Project } from '../api/types';
import { useAuth } from '../auth/auth';
import { Button, ErrorState, Field, fieldError, FormError, Loading } from '../components/ui';
import { Modal } from '../components/modal';

export function useOrgs() {
  return useQuery({ queryKey: ['orgs'], queryFn: () => unwrap<Org[]>(api.GET('/v1/orgs')) });
}

export function useProject(ref: string) {
  return useQuery({ queryKey: ['project', ref], queryFn: () => unwrap<Project>(api.GET('/v1/projects/{ref}', { params: { path: { ref } } })) });
}

/** The frame of every signed-in page: brand, org switcher, account menu, then the page. */
export function Shell() {
  const { user, signOut } = useAuth();
  const navigate = useNavigate();
  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/" className="brand">Plinth</Link>
        <OrgSwitcher />
        <div className="spacer" />
        {user && !user.email_verified ? (
          <Link to="/verify" className="badge badge-warn">Verify your email</Link>
        ) : null}
        <DropdownMenu.Root>
          <DropdownMenu.Trigger className="btn btn-ghost" aria-label="Account menu">
            <span className="avatar" aria-hidden>{(user?.name ?? user?.email ?? '?').slice(0, 1).toUpperCase()}</span>
            <span className="hide-narrow">{user?.email}</span>
          </DropdownMenu.Trigger>
          <DropdownMenu.Portal>
            <DropdownMenu.Content className="menu" align="end" sideOffset={4}>
              <DropdownMenu.Item className="menu-item" onSelect={() => navigate('/invitations')}>Invitations</DropdownMenu.Item>
              <DropdownMenu.Item className="menu-item" onSelect={() => navigate('/account')}>Personal access tokens</DropdownMenu.Item>
              <DropdownMenu.Separator className="menu-sep" />
              <DropdownMenu.Item className="menu-item" onSelect={() => void signOut().then(() => navigate('/sign-in'))}>Sign out</DropdownMenu.Item>
            </DropdownMenu.Content>
          </DropdownMenu.Portal>
        </DropdownMenu.Root>
      </header>
      <Outlet />
    </div>
  );
}

/** The current org (from the page's org or project) and a menu of the others, with "Create organization". */
function OrgSwitcher() {
  const orgs = useOrgs();
  const { orgId, ref } = useParams();
  const project = useQuery({
    queryKey: ['project', ref],
    queryFn: () => unwrap<Project>(api.GET('/v1/projects/{ref}', { params: { path: { ref: ref! } } })),
    enabled: !!ref,
  });
  const currentId = orgId ?? project.data?.org_id;
  const current = orgs.data?.find((o) => o.id === currentId);
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  return (
    <>
      <DropdownMenu.Root>
        <DropdownMenu.Trigger className="btn btn-secondary org-switcher" aria-label="Switch organization">
          {current?.name ?? 'Organizations'} <span aria-hidden>▾</span>
        </DropdownMenu.Trigger>
        <DropdownMenu.Portal>
          <DropdownMenu.Content className="menu" align="start" sideOffset={4}>
            <DropdownMenu.Label className="menu-label">Organizations</DropdownMenu.Label>
            {(orgs.data ?? []).map((o) => (
              <DropdownMenu.Item key={o.id} className="menu-item" onSelect={() => navigate(`/orgs/${o.id}`)}>
                {o.name} <span className="muted">{o.role}</span>
              </DropdownMenu.Item>
            ))}
            <DropdownMenu.Separator className="menu-sep" />
            <DropdownMenu.Item className="menu-item" onSelect={() => setCreating(true)}>+ Create organization</DropdownMenu.Item>
          </DropdownMenu.Content>
        </DropdownMenu.Portal>
      </DropdownMenu.Root>
      <CreateOrgDialog open={creating} onOpenChange={setCreating} />
    </>
  );
}

function CreateOrgDialog({ open, onOpenChange }: { open: boolean; onOpenChange: (o: boolean) => void }) {
  const [name, setName] = useState('');
  const queries = useQueryClient();
  const navigate = useNavigate();
  const m = useMutation({
    mutationFn: () => unwrap<Org>(api.POST('/v1/orgs', { body: { name } })),
    onSuccess: async (org) => {
      await queries.invalidateQueries({ queryKey: ['orgs'] });
      onOpenChange(false);
      setName('');
      navigate(`/orgs/${org.id}`);
    },
  });
  return (
    <Modal open={open} onOpenChange={onOpenChange} title="Create organization" description="Organizations hold projects, members and billing.">
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); m.mutate(); }}>
        <Field label="Name" value={name} onChange={(e) => setName(e.target.value)} error={fieldError(m.error, 'name')} autoFocus />
        <FormError error={m.error} />
        <div className="actions">
          <Button type="button" variant="secondary" onClick={() => onOpenChange(false)}>Cancel</Button>
          <Button type="submit" busy={m.isPending}>Create</Button>
        </div>
      </form>
    </Modal>
  );
}

export function OrgLayout() {
  const { orgId } = useParams();
  const orgs = useOrgs();
  if (orgs.isPending) return <Loading />;
  if (orgs.isError) return <ErrorState error={orgs.error} retry={() => void orgs.refetch()} />;
  const org = orgs.data.find((o) => o.id === orgId);
  if (!org) return <ErrorState error={new Error('This organization does not exist or you are not a member')} />;
  return (
    <div className="workspace">
      <nav className="sidenav" aria-label="Organization">
        <div className="sidenav-title">{org.name}</div>
        <NavLink end to={`/orgs/${org.id}`}>Projects</NavLink>
        <NavLink to={`/orgs/${org.id}/members`}>Members</NavLink>
        <NavLink to={`/orgs/${org.id}/billing`}>Billing</NavLink>
      </nav>
      <main className="content">
        <Outlet />
      </main>
    </div>
  );
}

export function ProjectLayout() {
  const { ref = '' } = useParams();
  const project = useProject(ref);
  if (project.isPending) return <Loading />;
  if (project.isError) return <ErrorState error={project.error} retry={() => void project.refetch()} />;
  const p = project.data;
  return (
    <div className="workspace">
      <nav className="sidenav" aria-label="Project">
        <Link to={`/orgs/${p.org_id}`} className="back">← Projects</Link>
        <div className="sidenav-title">{p.name}</div>
        <NavLink end to={`/projects/${p.ref}`}>Overview</NavLink>
        <NavLink to={`/projects/${p.ref}/keys`}>API keys</NavLink>
        <NavLink to={`/projects/${p.ref}/tables`}>Data</NavLink>
        <NavLink to={`/projects/${p.ref}/storage`}>Storage</NavLink>
        <NavLink to={`/projects/${p.ref}/functions`}>Functions</NavLink>
        <NavLink to={`/projects/${p.ref}/notifications`}>Notifications</NavLink>
        <NavLink to={`/projects/${p.ref}/usage`}>Usage</NavLink>
        <NavLink end to={`/projects/${p.ref}/auth`}>Auth</NavLink>
        <NavLink to={`/projects/${p.ref}/auth/users`}>Users</NavLink>
      </nav>
      <main className="content">
        <Outlet />
      </main>
    </div>
  );
}
