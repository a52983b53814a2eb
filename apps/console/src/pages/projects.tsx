import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, unwrap } from '../api/client';
import type { CreatedProject, Project } from '../api/types';
import { Button, CopyField, Empty, ErrorState, Field, fieldError, FormError, formatDate, Loading, PageHeader } from '../components/ui';
import { Modal, TypedConfirm } from '../components/modal';
import { useProject } from './layout';

export function ProjectsPage() {
  const { orgId = '' } = useParams();
  const projects = useQuery({
    queryKey: ['projects', orgId],
    queryFn: () => unwrap<Project[]>(api.GET('/v1/orgs/{orgId}/projects', { params: { path: { orgId } } })),
  });
  const [creating, setCreating] = useState(false);
  return (
    <>
      <PageHeader title="Projects">
        <Button onClick={() => setCreating(true)}>New project</Button>
      </PageHeader>
      {projects.isPending ? <Loading /> : projects.isError ? <ErrorState error={projects.error} retry={() => void projects.refetch()} /> : !projects.data.length ? (
        <Empty title="No projects yet">Create one to get an endpoint and API keys.</Empty>
      ) : (
        <ul className="cards grid">
          {projects.data.map((p) => (
            <li key={p.id} className="card">
              <h2><Link to={`/projects/${p.ref}`}>{p.name}</Link></h2>
              <p className="mono muted">{p.ref}</p>
              <p><span className={`badge badge-${p.status === 'active' ? 'ok' : 'warn'}`}>{p.status}</span> <span className="muted">created {formatDate(p.created_at)}</span></p>
            </li>
          ))}
        </ul>
      )}
      <CreateProjectDialog orgId={orgId} open={creating} onOpenChange={setCreating} />
    </>
  );
}

/** Create: name → the ref, endpoint and both keys, shown once with copy buttons until "I've saved it". */
function CreateProjectDialog({ orgId, open, onOpenChange }: { orgId: string; open: boolean; onOpenChange: (o: boolean) => void }) {
  const [name, setName] = useState('');
  const queries = useQueryClient();
  const navigate = useNavigate();
  const m = useMutation({
    mutationFn: () => unwrap<CreatedProject>(api.POST('/v1/orgs/{orgId}/projects', { params: { path: { orgId } }, body: { name } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['projects', orgId] }),
  });
  const created = m.data;
  const close = () => {
    onOpenChange(false);
    setName('');
    m.reset();
  };
  return (
    <Modal
      open={open}
      onOpenChange={(o) => (o ? onOpenChange(true) : created ? undefined : close())}
      title={created ? 'Save your keys' : 'New project'}
      description={created ? 'This is the only time the keys are shown. Store the secret key somewhere safe.' : 'A project gets its own database schema, endpoint and keys.'}
    >
      {created ? (
        <div>
          <CopyField label="Project ref" value={created.ref} />
          <CopyField label="Endpoint" value={created.endpoint} />
          <CopyField label="Publishable key" value={created.keys.publishable} />
          <CopyField label="Secret key" value={created.keys.secret} />
          <div className="actions">
            <Button onClick={() => { close(); navigate(`/projects/${created.ref}`); }}>I've saved it</Button>
          </div>
        </div>
      ) : (
        <form onSubmit={(e: FormEvent) => { e.preventDefault(); m.mutate(); }}>
          <Field label="Project name" value={name} onChange={(e) => setName(e.target.value)} error={fieldError(m.error, 'name')} autoFocus />
          <FormError error={m.error} />
          <div className="actions">
            <Button type="button" variant="secondary" onClick={close}>Cancel</Button>
            <Button type="submit" busy={m.isPending}>Create project</Button>
          </div>
        </form>
      )}
    </Modal>
  );
}

export function ProjectOverviewPage() {
  const { ref = '' } = useParams();
  const project = useProject(ref);
  const queries = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState<string | null>(null);
  const [deleting, setDeleting] = useState(false);
  const rename = useMutation({
    mutationFn: () => unwrap<Project>(api.PATCH('/v1/projects/{ref}', { params: { path: { ref } }, body: { name: name ?? '' } })),
    onSuccess: (p) => {
      queries.setQueryData(['project', ref], p);
      void queries.invalidateQueries({ queryKey: ['projects', p.org_id] });
      setName(null);
    },
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/v1/projects/{ref}', { params: { path: { ref } } })),
    onSuccess: async () => {
      const orgId = project.data?.org_id;
      await queries.invalidateQueries({ queryKey: ['projects', orgId] });
      navigate(`/orgs/${orgId}`);
    },
  });
  if (!project.data) return null;
  const p = project.data;
  return (
    <>
      <PageHeader title={p.name} />
      <section className="panel">
        <h2>Connect</h2>
        <CopyField label="Endpoint" value={p.endpoint} />
        <pre className="code">{`import { createClient } from '@supabase/supabase-js'\nconst plinth = createClient('${p.endpoint}', '<publishable key>')`}</pre>
      </section>
      <section className="panel">
        <h2>Settings</h2>
        <form className="inline-form" onSubmit={(e) => { e.preventDefault(); rename.mutate(); }}>
          <Field label="Project name" value={name ?? p.name} onChange={(e) => setName(e.target.value)} error={fieldError(rename.error, 'name')} />
          <Button type="submit" variant="secondary" busy={rename.isPending} disabled={name === null || name === p.name}>Save</Button>
        </form>
        <FormError error={rename.error} />
      </section>
      <section className="panel danger-zone">
        <h2>Delete project</h2>
        <p className="muted">Deletes its tables, rows, users and keys.</p>
        <Button variant="danger" onClick={() => setDeleting(true)}>Delete project…</Button>
      </section>
      <TypedConfirm open={deleting} onOpenChange={setDeleting} title={`Delete ${p.name}?`} word={p.ref} action="Delete project" onConfirm={() => remove.mutate()} busy={remove.isPending} error={remove.error} />
    </>
  );
}
