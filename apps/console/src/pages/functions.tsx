import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, ApiError, unwrap } from '../api/client';
import { Button, Empty, ErrorState, Field, fieldError, FormError, formatDate, Loading, PageHeader, Select } from '../components/ui';
import { TypedConfirm } from '../components/modal';
import { compilePosition, invokeFunction, offsetOf, STARTER_SOURCE, type InvokeResult } from '../lib/functions';

// The functions endpoints don't describe their responses in the OpenAPI document yet: these are their shapes
// (libs/runtime-functions/src/functions.service.ts).
interface FunctionSettings {
  verify_jwt: boolean;
  service_role: boolean;
  rpc: boolean;
  memory_mb: number;
  timeout_ms: number;
  cron: string | null;
}
interface FunctionView {
  name: string;
  version: number;
  language: 'js' | 'ts';
  settings: FunctionSettings;
  created_at: string;
  updated_at: string;
}
interface FunctionVersion {
  version: number;
  current: boolean;
  language: 'js' | 'ts';
  created_at: string;
}
interface Secret {
  name: string;
  updated_at: string;
}
interface LogEntry {
  request_id: string;
  version: number;
  level: string;
  status: number;
  duration_ms: number;
  error: string | null;
  timestamp: string;
  lines: Array<{ timestamp: string; level: string; message: string }>;
}

export function FunctionsPage() {
  const { ref = '' } = useParams();
  const fns = useQuery({ queryKey: ['functions', ref], queryFn: () => unwrap<FunctionView[]>(api.GET('/v1/projects/{ref}/functions', { params: { path: { ref } } })) });
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | undefined>();
  const navigate = useNavigate();
  const open = (e: FormEvent) => {
    e.preventDefault();
    // The API's rule for names (functions.dto.ts), checked here so a bad name doesn't open an editor that can't deploy.
    const n = name.trim();
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,62}$/.test(n)) return setNameError('must start with a letter and hold only letters, digits, _ and - (at most 63)');
    if (n === 'secrets') return setNameError('"secrets" is reserved');
    navigate(`/projects/${ref}/functions/${encodeURIComponent(n)}`);
  };
  return (
    <>
      <PageHeader title="Functions" />
      <form className="inline-form panel" aria-label="New function" onSubmit={open}>
        <Field label="New function name" value={name} onChange={(e) => { setName(e.target.value); setNameError(undefined); }} error={nameError} hint="Letters, digits, _ and -; you deploy it from the editor." />
        <Button type="submit">Open editor</Button>
      </form>
      {fns.isPending ? <Loading /> : fns.isError ? <ErrorState error={fns.error} retry={() => void fns.refetch()} /> : !fns.data.length ? (
        <Empty title="No functions yet">Name one above and deploy it; apps call it at /p/{ref}/functions/v1/&lt;name&gt;.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="data-table">
            <thead><tr><th>Name</th><th>Version</th><th>Language</th><th>Needs a signed-in user</th><th>Schedule</th><th>Updated</th></tr></thead>
            <tbody>
              {fns.data.map((f) => (
                <tr key={f.name}>
                  <td><Link to={`/projects/${ref}/functions/${encodeURIComponent(f.name)}`}>{f.name}</Link></td>
                  <td>v{f.version}</td>
                  <td>{f.language}</td>
                  <td>{f.settings.verify_jwt ? 'yes' : 'no'}</td>
                  <td className="mono">{f.settings.cron ?? '—'}</td>
                  <td>{formatDate(f.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <SecretsPanel ref_={ref} />
    </>
  );
}

function SecretsPanel({ ref_ }: { ref_: string }) {
  const queries = useQueryClient();
  const secrets = useQuery({ queryKey: ['function-secrets', ref_], queryFn: () => unwrap<Secret[]>(api.GET('/v1/projects/{ref}/functions/secrets', { params: { path: { ref: ref_ } } })) });
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const reload = () => void queries.invalidateQueries({ queryKey: ['function-secrets', ref_] });
  const put = useMutation({
    mutationFn: () => unwrap<Secret[]>(api.PUT('/v1/projects/{ref}/functions/secrets', { params: { path: { ref: ref_ } }, body: { [name]: value } as never })),
    onSuccess: () => {
      setName('');
      setValue('');
      reload();
    },
  });
  const del = useMutation({ mutationFn: (n: string) => unwrap(api.DELETE('/v1/projects/{ref}/functions/secrets/{name}', { params: { path: { ref: ref_, name: n } } })), onSuccess: reload });
  return (
    <section className="panel" aria-label="Secrets">
      <h2>Secrets</h2>
      <p className="muted">Every function reads them as <span className="mono">env.secrets.NAME</span>. Values are write-only: the console shows names.</p>
      {secrets.isPending ? <Loading /> : secrets.isError ? <ErrorState error={secrets.error} retry={() => void secrets.refetch()} /> : !secrets.data.length ? (
        <Empty title="No secrets" />
      ) : (
        <ul className="plain-list">
          {secrets.data.map((s) => (
            <li key={s.name}>
              <span className="mono">{s.name}</span> <span className="muted">set {formatDate(s.updated_at)}</span>{' '}
              <Button variant="ghost" aria-label={`Delete secret ${s.name}`} onClick={() => { if (window.confirm(`Delete secret ${s.name}?`)) del.mutate(s.name); }}>Delete</Button>
            </li>
          ))}
        </ul>
      )}
      <form className="inline-form" aria-label="Set a secret" onSubmit={(e: FormEvent) => { e.preventDefault(); put.mutate(); }}>
        <Field label="Secret name" value={name} onChange={(e) => setName(e.target.value)} error={fieldError(put.error, name)} autoComplete="off" />
        <Field label="Secret value" type="password" value={value} onChange={(e) => setValue(e.target.value)} autoComplete="new-password" />
        <Button type="submit" variant="secondary" busy={put.isPending}>Set secret</Button>
      </form>
      <FormError error={put.error ?? del.error} />
    </section>
  );
}

export function FunctionPage() {
  const { ref = '', name = '' } = useParams();
  const fn = useQuery({
    queryKey: ['function', ref, name],
    queryFn: async () => {
      try {
        return await unwrap<FunctionView & { source: string }>(api.GET('/v1/projects/{ref}/functions/{name}', { params: { path: { ref, name } } }));
      } catch (e) {
        // Not deployed yet: the editor starts from a template.
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }
    },
  });
  if (fn.isPending) return <Loading />;
  if (fn.isError) return <ErrorState error={fn.error} retry={() => void fn.refetch()} />;
  return <FunctionEditor key={fn.data ? `${fn.data.name}@${fn.data.version}` : 'new'} ref_={ref} name={name} current={fn.data} />;
}

function FunctionEditor({ ref_, name, current }: { ref_: string; name: string; current: (FunctionView & { source: string }) | null }) {
  const [source, setSource] = useState(current?.source ?? STARTER_SOURCE);
  const [language, setLanguage] = useState<'ts' | 'js'>(current?.language ?? 'ts');
  const [verifyJwt, setVerifyJwt] = useState(current?.settings.verify_jwt ?? false);
  const editor = useRef<HTMLTextAreaElement>(null);
  const queries = useQueryClient();
  const navigate = useNavigate();
  const [deleting, setDeleting] = useState(false);
  const reload = async () => {
    await queries.invalidateQueries({ queryKey: ['functions', ref_] });
    await queries.invalidateQueries({ queryKey: ['function', ref_, name] });
    await queries.invalidateQueries({ queryKey: ['function-versions', ref_, name] });
  };
  const deploy = useMutation({
    mutationFn: () => unwrap<FunctionView>(api.PUT('/v1/projects/{ref}/functions/{name}', { params: { path: { ref: ref_, name } }, body: { source, language, verify_jwt: verifyJwt } })),
    onSuccess: reload,
    onError: (e) => {
      // Put the caret where the compiler points.
      const at = e instanceof ApiError ? compilePosition(e.message) : null;
      if (at && editor.current) {
        const offset = offsetOf(source, at.line, at.column);
        editor.current.focus();
        editor.current.setSelectionRange(offset, offset);
      }
    },
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/v1/projects/{ref}/functions/{name}', { params: { path: { ref: ref_, name } } })),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: ['functions', ref_] });
      navigate(`/projects/${ref_}/functions`);
    },
  });
  const compileError = deploy.error instanceof ApiError ? (fieldError(deploy.error, 'source') ? deploy.error.message : undefined) : undefined;
  return (
    <>
      <PageHeader title={name}>
        {current ? <span className="badge badge-ok">v{current.version} live</span> : <span className="badge">not deployed</span>}
        {current ? <Button variant="danger" onClick={() => setDeleting(true)}>Delete function…</Button> : null}
      </PageHeader>
      <section className="panel" aria-label="Editor">
        <div className="field">
          <label htmlFor="fn-source">Source</label>
          <textarea
            id="fn-source"
            ref={editor}
            className="code-editor mono"
            value={source}
            spellCheck={false}
            rows={Math.min(30, Math.max(10, source.split('\n').length + 1))}
            onChange={(e) => setSource(e.target.value)}
            onKeyDown={(e) => {
              // Tab indents inside the editor; Escape then Tab leaves it (keyboard users aren't trapped).
              if (e.key === 'Tab' && !e.shiftKey && e.currentTarget.dataset.escaped !== 'true') {
                e.preventDefault();
                const el = e.currentTarget;
                const s = el.selectionStart;
                const next = `${source.slice(0, s)}  ${source.slice(el.selectionEnd)}`;
                setSource(next);
                requestAnimationFrame(() => el.setSelectionRange(s + 2, s + 2));
              }
              e.currentTarget.dataset.escaped = e.key === 'Escape' ? 'true' : 'false';
            }}
            aria-invalid={compileError ? true : undefined}
            aria-describedby={compileError ? 'fn-compile-error' : undefined}
          />
          {compileError ? <small className="field-error" id="fn-compile-error" role="alert">{compileError}</small> : null}
        </div>
        <div className="inline-form">
          <Select label="Language" value={language} onChange={(v) => setLanguage(v as 'ts' | 'js')} options={[{ value: 'ts', label: 'TypeScript' }, { value: 'js', label: 'JavaScript' }]} />
          <label className="check"><input type="checkbox" checked={verifyJwt} onChange={(e) => setVerifyJwt(e.target.checked)} /> Callers need a signed-in user</label>
          <Button onClick={() => deploy.mutate()} busy={deploy.isPending}>Deploy</Button>
          {deploy.isSuccess ? <span className="ok" role="status">Deployed v{deploy.data.version}</span> : null}
        </div>
        {compileError ? null : <FormError error={deploy.error} />}
      </section>
      {current ? (
        <>
          <InvokePanel ref_={ref_} name={name} />
          <VersionsPanel ref_={ref_} name={name} onChanged={reload} />
          <LogsPanel ref_={ref_} name={name} />
        </>
      ) : null}
      <TypedConfirm open={deleting} onOpenChange={setDeleting} title={`Delete function ${name}?`} word={name} action="Delete function" onConfirm={() => remove.mutate()} busy={remove.isPending} error={remove.error} />
    </>
  );
}

function InvokePanel({ ref_, name }: { ref_: string; name: string }) {
  const [method, setMethod] = useState('POST');
  const [body, setBody] = useState('{"name":"Ada"}');
  const queries = useQueryClient();
  const call = useMutation<InvokeResult>({
    mutationFn: () => invokeFunction(ref_, name, method, body),
    onSettled: () => void queries.invalidateQueries({ queryKey: ['function-logs', ref_, name] }),
  });
  return (
    <section className="panel" aria-label="Invoke">
      <h2>Invoke</h2>
      <p className="muted">Calls <span className="mono">/p/{ref_}/functions/v1/{name}</span> with the console's server key (as the service role).</p>
      <div className="inline-form">
        <Select label="Method" value={method} onChange={setMethod} options={['POST', 'GET', 'PUT', 'PATCH', 'DELETE'].map((m) => ({ value: m, label: m }))} />
        <Button onClick={() => call.mutate()} busy={call.isPending}>Invoke</Button>
      </div>
      {method !== 'GET' ? (
        <div className="field">
          <label htmlFor="fn-body">Test body</label>
          <textarea id="fn-body" className="mono" rows={4} value={body} onChange={(e) => setBody(e.target.value)} spellCheck={false} />
        </div>
      ) : null}
      <FormError error={call.error} />
      {call.data ? (
        <div aria-label="Response">
          <p><span className={`badge ${call.data.status < 400 ? 'badge-ok' : 'badge-warn'}`}>{call.data.status}</span> <span className="muted">{call.data.ms} ms · {call.data.contentType}</span></p>
          <pre className="code" data-testid="invoke-response">{call.data.body}</pre>
        </div>
      ) : null}
    </section>
  );
}

function VersionsPanel({ ref_, name, onChanged }: { ref_: string; name: string; onChanged: () => Promise<void> }) {
  const versions = useQuery({
    queryKey: ['function-versions', ref_, name],
    queryFn: () => unwrap<FunctionVersion[]>(api.GET('/v1/projects/{ref}/functions/{name}/versions', { params: { path: { ref: ref_, name } } })),
  });
  const rollback = useMutation({
    mutationFn: (version: number) => unwrap<FunctionView>(api.POST('/v1/projects/{ref}/functions/{name}/rollback', { params: { path: { ref: ref_, name } }, body: { version } as never })),
    onSuccess: onChanged,
  });
  return (
    <section className="panel" aria-label="Versions">
      <h2>Versions</h2>
      <FormError error={rollback.error} />
      {versions.isPending ? <Loading /> : versions.isError ? <ErrorState error={versions.error} retry={() => void versions.refetch()} /> : !versions.data.length ? (
        <Empty title="No versions" />
      ) : (
        <div className="table-wrap">
          <table className="data-table">
            <thead><tr><th>Version</th><th>Language</th><th>Deployed</th><th><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {versions.data.map((v) => (
                <tr key={v.version}>
                  <td>v{v.version} {v.current ? <span className="badge badge-ok">current</span> : null}</td>
                  <td>{v.language}</td>
                  <td>{formatDate(v.created_at)}</td>
                  <td>{v.current ? null : <Button variant="secondary" aria-label={`Roll back to v${v.version}`} busy={rollback.isPending && rollback.variables === v.version} onClick={() => rollback.mutate(v.version)}>Roll back</Button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const LEVELS = ['', 'log', 'info', 'debug', 'warn', 'error'];

function LogsPanel({ ref_, name }: { ref_: string; name: string }) {
  const [level, setLevel] = useState('');
  const logs = useQuery({
    queryKey: ['function-logs', ref_, name, level],
    queryFn: () =>
      unwrap<LogEntry[]>(
        api.GET('/v1/projects/{ref}/functions/{name}/logs', { params: { path: { ref: ref_, name }, query: { limit: 50, ...(level ? { level } : {}) } as never } }),
      ),
    refetchInterval: 5000,
  });
  return (
    <section className="panel" aria-label="Logs">
      <div className="panel-head">
        <h2>Logs</h2>
        <Select label="Level" value={level} onChange={setLevel} options={LEVELS.map((l) => ({ value: l, label: l || 'all' }))} />
      </div>
      {logs.isPending ? <Loading /> : logs.isError ? <ErrorState error={logs.error} retry={() => void logs.refetch()} /> : !logs.data.length ? (
        <Empty title="No calls logged yet">Invoke the function; calls show here within seconds.</Empty>
      ) : (
        <ul className="log-list">
          {logs.data.map((l) => (
            <li key={l.request_id + l.timestamp} className="log-entry">
              <div>
                <span className={`badge ${l.status < 400 ? 'badge-ok' : 'badge-warn'}`}>{l.status}</span> <span className="muted">{formatDate(l.timestamp)} · v{l.version} · {l.duration_ms} ms</span>{' '}
                <span className="mono muted">{l.request_id}</span>
              </div>
              {l.error ? <div className="field-error mono">{l.error}</div> : null}
              {l.lines.map((line, i) => (
                <div key={i} className={`mono log-line log-${line.level}`}>[{line.level}] {line.message}</div>
              ))}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
