import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, ApiError, unwrap } from '../api/client';
import type { Ok } from '../api/types';
import { Button, CopyField, Empty, ErrorState, Field, fieldError, FormError, formatDate, Loading, PageHeader, Select } from '../components/ui';
import { CardListPage } from '../components/card-list';
import { Modal, TypedConfirm } from '../components/modal';
import { describeRules, type RuleAction, type RuleLike } from '../lib/rules-preview';
import { breadcrumbs, bucketRuleFromDraft, createSignedUrl, SIGNED_URL_EXPIRIES, deleteObjects, downloadObject, formatBytes, listObjects, sizeLimitValue, uploadObject, type BucketRuleDraft as RuleDraft } from '../lib/storage';

type Bucket = Ok<'BucketsController_list'>[number];
type BucketRule = Bucket['rules'][number];

const ACTIONS: RuleAction[] = ['read', 'create', 'update', 'delete'];
const PER_USER_FOLDER = { path: { $startsWith: '$auth.uid/' } };
const BUCKET_WORDS = { noun: 'files', place: 'bucket' };

function useBuckets(ref: string) {
  return useQuery({ queryKey: ['buckets', ref], queryFn: () => unwrap<Bucket[]>(api.GET('/v1/projects/{ref}/buckets', { params: { path: { ref } } })) });
}

export function BucketsPage() {
  const { ref = '' } = useParams();
  return (
    <CardListPage
      title="Storage"
      newLabel="New bucket"
      query={useBuckets(ref)}
      empty={{ title: 'No buckets yet', text: "Create one; supabase-js's storage client can use it at once." }}
      keyOf={(b) => b.id}
      card={(b) => (
        <>
          <h2><Link to={`/projects/${ref}/storage/${encodeURIComponent(b.id)}`}>{b.id}</Link></h2>
          <p className="muted">
            {b.public ? 'public' : 'private'} · {b.file_size_limit ? `up to ${formatBytes(b.file_size_limit)}` : 'plan size limit'} ·{' '}
            {b.allowed_mime_types?.length ? b.allowed_mime_types.join(', ') : 'any type'} · {b.rules.length ? `${b.rules.length} rules` : 'no rules (server keys only)'}
          </p>
        </>
      )}
      dialog={(open, onOpenChange) => <CreateBucketDialog ref_={ref} open={open} onOpenChange={onOpenChange} />}
    />
  );
}

function CreateBucketDialog({ ref_, open, onOpenChange }: { ref_: string; open: boolean; onOpenChange: (o: boolean) => void }) {
  const [id, setId] = useState('');
  const [isPublic, setPublic] = useState(false);
  const [limit, setLimit] = useState('');
  const [types, setTypes] = useState('');
  const queries = useQueryClient();
  const navigate = useNavigate();
  const m = useMutation({
    mutationFn: () => {
      const allowed = types.split(',').map((t) => t.trim()).filter(Boolean);
      const body = { id, public: isPublic, file_size_limit: sizeLimitValue(limit), allowed_mime_types: allowed.length ? allowed : null };
      return unwrap<Bucket>(api.POST('/v1/projects/{ref}/buckets', { params: { path: { ref: ref_ } }, body: body as never }));
    },
    onSuccess: async (b) => {
      await queries.invalidateQueries({ queryKey: ['buckets', ref_] });
      onOpenChange(false);
      setId('');
      setLimit('');
      setTypes('');
      setPublic(false);
      m.reset();
      navigate(`/projects/${ref_}/storage/${encodeURIComponent(b.id)}`);
    },
  });
  return (
    <Modal open={open} onOpenChange={onOpenChange} title="New bucket" description="Letters, digits, _ . and -. Without rules only server keys reach it.">
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); m.mutate(); }}>
        <Field label="Bucket name" value={id} onChange={(e) => setId(e.target.value)} error={fieldError(m.error, 'id') ?? fieldError(m.error, 'name')} autoFocus />
        <label className="check"><input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.target.checked)} /> Public (anyone may download its files by URL)</label>
        <Field label="Size limit per file (optional)" value={limit} placeholder="e.g. 10MB" onChange={(e) => setLimit(e.target.value)} error={fieldError(m.error, 'file_size_limit')} />
        <Field label="Allowed types (optional, comma-separated)" value={types} placeholder="image/*, application/pdf" onChange={(e) => setTypes(e.target.value)} error={fieldError(m.error, 'allowed_mime_types') ?? fieldError(m.error, 'allowed_mime_types.0')} />
        <FormError error={m.error} />
        <div className="actions">
          <Button type="button" variant="secondary" onClick={() => onOpenChange(false)}>Cancel</Button>
          <Button type="submit" busy={m.isPending}>Create bucket</Button>
        </div>
      </form>
    </Modal>
  );
}

export function BucketPage() {
  const { ref = '', bucket = '' } = useParams();
  const buckets = useBuckets(ref);
  const queries = useQueryClient();
  const navigate = useNavigate();
  const [deleting, setDeleting] = useState(false);
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/v1/projects/{ref}/buckets/{id}', { params: { path: { ref, id: bucket } } })),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: ['buckets', ref] });
      navigate(`/projects/${ref}/storage`);
    },
  });
  if (buckets.isPending) return <Loading />;
  if (buckets.isError) return <ErrorState error={buckets.error} retry={() => void buckets.refetch()} />;
  const b = buckets.data.find((x) => x.id === bucket);
  if (!b) return <Empty title={`No bucket "${bucket}"`} />;
  return (
    <>
      <PageHeader title={b.id}>
        <Button variant="danger" onClick={() => setDeleting(true)}>Delete bucket…</Button>
      </PageHeader>
      <p className="muted">
        {b.public ? 'Public: anyone may download its files by URL.' : 'Private.'} {b.file_size_limit ? `Files up to ${formatBytes(b.file_size_limit)}.` : ''}{' '}
        {b.allowed_mime_types?.length ? `Types: ${b.allowed_mime_types.join(', ')}.` : 'Any type.'}
      </p>
      <ObjectBrowser ref_={ref} bucket={b.id} />
      <BucketRulesEditor key={b.id} ref_={ref} bucket={b} />
      <BucketSettings key={`settings:${b.id}`} ref_={ref} bucket={b} />
      <TypedConfirm open={deleting} onOpenChange={setDeleting} title={`Delete bucket ${b.id}?`} word={b.id} action="Delete bucket" onConfirm={() => remove.mutate()} busy={remove.isPending} error={remove.error} />
    </>
  );
}

/** Public or not, the size limit and allowed types, changed in place (PATCH). */
function BucketSettings({ ref_, bucket }: { ref_: string; bucket: Bucket }) {
  const [isPublic, setPublic] = useState(bucket.public);
  const [limit, setLimit] = useState(bucket.file_size_limit ? String(bucket.file_size_limit) : '');
  const [types, setTypes] = useState((bucket.allowed_mime_types ?? []).join(', '));
  const queries = useQueryClient();
  const save = useMutation({
    mutationFn: () => {
      const allowed = types.split(',').map((t) => t.trim()).filter(Boolean);
      const body = { public: isPublic, file_size_limit: sizeLimitValue(limit), allowed_mime_types: allowed.length ? allowed : null };
      return unwrap<Bucket>(api.PATCH('/v1/projects/{ref}/buckets/{id}', { params: { path: { ref: ref_, id: bucket.id } }, body: body as never }));
    },
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['buckets', ref_] }),
  });
  return (
    <section className="panel" aria-label="Bucket settings">
      <h2>Settings</h2>
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); save.mutate(); }}>
        <label className="check"><input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.target.checked)} /> Public (anyone may download its files by URL)</label>
        <div className="inline-form">
          <Field label="Size limit per file (bytes or 10MB)" value={limit} onChange={(e) => setLimit(e.target.value)} error={fieldError(save.error, 'file_size_limit')} />
          <Field label="Allowed types (comma-separated; empty for any)" value={types} onChange={(e) => setTypes(e.target.value)} error={fieldError(save.error, 'allowed_mime_types')} />
        </div>
        <FormError error={save.error} />
        <div className="actions left">
          <Button type="submit" variant="secondary" busy={save.isPending}>Save settings</Button>
          {save.isSuccess ? <span className="ok" role="status">Settings saved</span> : null}
        </div>
      </form>
    </section>
  );
}


function toDraft(r: BucketRule): RuleDraft {
  return { role: r.role, actions: r.action, where: r.where && Object.keys(r.where).length ? JSON.stringify(r.where) : '' };
}

function BucketRulesEditor({ ref_, bucket }: { ref_: string; bucket: Bucket }) {
  const [drafts, setDrafts] = useState<RuleDraft[]>(() => bucket.rules.map(toDraft));
  const queries = useQueryClient();
  const parsed = useMemo(() => drafts.map(bucketRuleFromDraft), [drafts]);
  const rules = parsed.flatMap((p) => ('rule' in p ? [p.rule] : []));
  const invalid = parsed.some((p) => 'problem' in p);
  const save = useMutation({
    mutationFn: () => unwrap(api.PUT('/v1/projects/{ref}/buckets/{id}/rules', { params: { path: { ref: ref_, id: bucket.id } }, body: rules as never })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['buckets', ref_] }),
  });
  const set = (i: number, patch: Partial<RuleDraft>) => setDrafts((ds) => ds.map((d, j) => (j === i ? { ...d, ...patch } : d)));
  return (
    <section className="panel" aria-label="Bucket rules">
      <h2>Rules</h2>
      <p className="muted">Who may do what with files through the publishable key. Conditions use owner_id, path, mime_type and size; server keys bypass rules.</p>
      {drafts.map((d, i) => {
        const p = parsed[i];
        return (
          <div className="rule" key={i}>
            <div className="rule-head">
              <div className="field">
                <label htmlFor={`brule-role-${i}`}>Who</label>
                <select id={`brule-role-${i}`} value={d.role} onChange={(e) => set(i, { role: e.target.value as RuleLike['role'] })}>
                  <option value="authenticated">Signed-in users</option>
                  <option value="anon">Anyone (publishable key)</option>
                </select>
              </div>
              <fieldset className="actions-set">
                <legend>May</legend>
                {ACTIONS.map((a) => (
                  <label className="check" key={a}>
                    <input type="checkbox" checked={d.actions.includes(a)} onChange={(e) => set(i, { actions: e.target.checked ? [...d.actions, a] : d.actions.filter((x) => x !== a) })} /> {a}
                  </label>
                ))}
              </fieldset>
              <Button variant="ghost" aria-label={`Remove rule ${i + 1}`} onClick={() => setDrafts((ds) => ds.filter((_, j) => j !== i))}>✕</Button>
            </div>
            <div className="field">
              <label htmlFor={`brule-where-${i}`}>Conditions (JSON, optional)</label>
              <input id={`brule-where-${i}`} className="mono" value={d.where} placeholder='{"mime_type":{"$startsWith":"image/"}}' onChange={(e) => set(i, { where: e.target.value })} aria-invalid={'problem' in p || undefined} />
              {'problem' in p ? <small className="field-error" role="alert">{p.problem}</small> : null}
            </div>
            <Button variant="ghost" onClick={() => set(i, { where: JSON.stringify(PER_USER_FOLDER) })}>their own folder</Button>
          </div>
        );
      })}
      <div className="actions left">
        <Button variant="secondary" onClick={() => setDrafts((ds) => [...ds, { role: 'authenticated', actions: ['read'], where: '' }])}>Add rule</Button>
        <Button variant="secondary" onClick={() => setDrafts([{ role: 'authenticated', actions: ['read', 'create', 'update', 'delete'], where: JSON.stringify(PER_USER_FOLDER) }])}>
          Per-user folders
        </Button>
      </div>
      <div className="preview" aria-live="polite">
        <h3>In plain words</h3>
        <ul>
          {bucket.public ? <li>Anyone can download its files by URL: the bucket is public, whatever the rules say about reading.</li> : null}
          {describeRules(rules, BUCKET_WORDS).map((line, i) => <li key={i}>{line}</li>)}
        </ul>
      </div>
      <FormError error={save.error} />
      {save.error instanceof ApiError && Object.keys(save.error.fields).length ? (
        <ul className="field-error">{Object.entries(save.error.fields).map(([p, msg]) => <li key={p}>{p}: {msg}</li>)}</ul>
      ) : null}
      <div className="actions left">
        <Button onClick={() => save.mutate()} busy={save.isPending} disabled={invalid}>Save rules</Button>
        {save.isSuccess ? <span className="ok" role="status">Saved</span> : null}
      </div>
    </section>
  );
}

const PAGE_SIZES = ['25', '50', '100'];

function ObjectBrowser({ ref_, bucket }: { ref_: string; bucket: string }) {
  const [prefix, setPrefixState] = useState('');
  const [perPage, setPerPage] = useState(50);
  const [offset, setOffset] = useState(0);
  const [signing, setSigning] = useState<string | null>(null);
  const setPrefix = (p: string) => {
    setPrefixState(p);
    setOffset(0);
  };
  const fileInput = useRef<HTMLInputElement>(null);
  const queries = useQueryClient();
  const objects = useQuery({ queryKey: ['objects', ref_, bucket, prefix, perPage, offset], queryFn: () => listObjects(ref_, bucket, prefix, perPage, offset), placeholderData: keepPreviousData });
  const reload = () => void queries.invalidateQueries({ queryKey: ['objects', ref_, bucket] });
  const upload = useMutation({
    mutationFn: async (files: File[]) => {
      for (const f of files) await uploadObject(ref_, bucket, prefix + f.name, f);
    },
    onSettled: () => {
      if (fileInput.current) fileInput.current.value = '';
      reload();
    },
  });
  const remove = useMutation({ mutationFn: (path: string) => deleteObjects(ref_, bucket, [path]), onSuccess: reload });
  const download = useMutation({
    mutationFn: async (path: string) => {
      const blob = await downloadObject(ref_, bucket, path);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = path.split('/').pop() ?? 'download';
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
  });
  const [folderOpen, setFolderOpen] = useState(false);
  const [folder, setFolder] = useState('');
  return (
    <section className="panel" aria-label="Files">
      <div className="panel-head">
        <h2>Files</h2>
        <div className="row-actions">
          <Button variant="secondary" onClick={() => setFolderOpen(true)}>New folder</Button>
          <Button onClick={() => fileInput.current?.click()} busy={upload.isPending}>Upload files</Button>
          <input ref={fileInput} type="file" multiple className="sr-only" aria-label="Files to upload" tabIndex={-1} onChange={(e) => { const fs = [...(e.target.files ?? [])]; if (fs.length) upload.mutate(fs); }} />
        </div>
      </div>
      <nav className="breadcrumbs" aria-label="Folder">
        <button className="link" onClick={() => setPrefix('')}>{bucket}</button>
        {breadcrumbs(prefix).map((c) => (
          <span key={c.prefix}> / <button className="link" onClick={() => setPrefix(c.prefix)}>{c.name}</button></span>
        ))}
      </nav>
      <FormError error={upload.error ?? remove.error ?? download.error} />
      {objects.isPending ? <Loading /> : objects.isError ? <ErrorState error={objects.error} retry={() => void objects.refetch()} /> : !objects.data.length && offset === 0 ? (
        <Empty title={prefix ? 'This folder is empty' : 'No files yet'}>Upload files; a folder appears once it holds a file.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="data-table">
            <thead><tr><th>Name</th><th>Size</th><th>Type</th><th>Updated</th><th><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {objects.data.map((o) =>
                o.id === null ? (
                  <tr key={`dir:${o.name}`}>
                    <td colSpan={5}><button className="link" onClick={() => setPrefix(`${prefix}${o.name}/`)}>{o.name}/</button> <span className="badge">folder</span></td>
                  </tr>
                ) : (
                  <tr key={o.id}>
                    <td className="mono">{o.name}</td>
                    <td>{formatBytes(o.metadata?.size)}</td>
                    <td className="mono">{o.metadata?.mimetype ?? ''}</td>
                    <td>{formatDate(o.updated_at)}</td>
                    <td className="row-actions">
                      <Button variant="secondary" aria-label={`Download ${o.name}`} onClick={() => download.mutate(prefix + o.name)} busy={download.isPending && download.variables === prefix + o.name}>Download</Button>
                      <Button variant="secondary" aria-label={`Signed URL for ${o.name}`} onClick={() => setSigning(prefix + o.name)}>Signed URL…</Button>
                      <Button variant="danger" aria-label={`Delete ${o.name}`} onClick={() => { if (window.confirm(`Delete ${o.name}?`)) remove.mutate(prefix + o.name); }}>Delete</Button>
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
      {objects.data && (offset > 0 || objects.data.length >= perPage) ? (
        <div className="pager" aria-label="Pages of files">
          <Button variant="secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - perPage))}>Previous</Button>
          <span className="muted" aria-live="polite">{objects.data.length ? `${offset + 1}–${offset + objects.data.length}` : 'No more entries'}</span>
          <Button variant="secondary" disabled={objects.data.length < perPage} onClick={() => setOffset(offset + perPage)}>Next</Button>
        </div>
      ) : null}
      <div className="actions left">
        <Select label="Entries per page" value={String(perPage)} onChange={(v) => { setPerPage(Number(v)); setOffset(0); }} options={PAGE_SIZES.map((n) => ({ value: n, label: n }))} />
      </div>
      {signing ? <SignedUrlDialog key={signing} ref_={ref_} bucket={bucket} path={signing} onClose={() => setSigning(null)} /> : null}
      <Modal open={folderOpen} onOpenChange={setFolderOpen} title="New folder" description="Folders are path prefixes: the folder opens now and exists once a file is uploaded into it.">
        <form onSubmit={(e) => {
          e.preventDefault();
          const name = folder.trim().replace(/^\/+|\/+$/g, '');
          if (!name) return;
          setPrefix(`${prefix}${name}/`);
          setFolder('');
          setFolderOpen(false);
        }}>
          <Field label="Folder name" value={folder} onChange={(e) => setFolder(e.target.value)} autoFocus />
          <div className="actions">
            <Button type="button" variant="secondary" onClick={() => setFolderOpen(false)}>Cancel</Button>
            <Button type="submit">Open folder</Button>
          </div>
        </form>
      </Modal>
    </section>
  );
}



/** A URL that downloads one file without a key until it expires, with a copy button. */
function SignedUrlDialog({ ref_, bucket, path, onClose }: { ref_: string; bucket: string; path: string; onClose: () => void }) {
  const [expiresIn, setExpiresIn] = useState('3600');
  const sign = useMutation({ mutationFn: () => createSignedUrl(ref_, bucket, path, Number(expiresIn)) });
  return (
    <Modal open onOpenChange={(o) => { if (!o) onClose(); }} title={`Signed URL for ${path.split('/').pop()}`} description="Anyone with the URL can download this file until it expires, whatever the bucket's rules.">
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); sign.mutate(); }}>
        <Select label="Expires in" value={expiresIn} onChange={(v) => { setExpiresIn(v); sign.reset(); }} options={SIGNED_URL_EXPIRIES} error={fieldError(sign.error, 'expiresIn')} />
        <FormError error={sign.error} />
        <div className="actions left"><Button type="submit" busy={sign.isPending}>Create URL</Button></div>
      </form>
      {sign.data ? <CopyField label="Signed URL" value={sign.data} /> : null}
      <div className="actions"><Button type="button" variant="secondary" onClick={onClose}>Close</Button></div>
    </Modal>
  );
}
