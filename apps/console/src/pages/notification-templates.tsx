import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, unwrap } from '../api/client';
import type { Ok } from '../api/types';
import { Button, Empty, ErrorState, Field, fieldError, FormError, formatDate, Loading, Select } from '../components/ui';
import { Modal } from '../components/modal';
import { parseJsonObject, SEND_CHANNELS, sendBody, sendNotification, type SendChannel, type SendDraft, type SendResult } from '../lib/notifications';

type Template = Ok<'TemplatesController_list'>[number];
type Rendered = Ok<'TemplatesController_preview'>;

/** A template part's error: a field message, or a render refusal naming this part (`details.part`). */
const partError = fieldError;

function TextArea({ id, label, value, onChange, error, rows = 3 }: { id: string; label: string; value: string; onChange: (v: string) => void; error?: string; rows?: number }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} className="mono" rows={rows} value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={error ? true : undefined} />
      {error ? <small className="field-error" role="alert">{error}</small> : null}
    </div>
  );
}

export function TemplatesPanel({ ref_ }: { ref_: string }) {
  const queries = useQueryClient();
  const templates = useQuery({ queryKey: ['templates', ref_], queryFn: () => unwrap<Template[]>(api.GET('/v1/projects/{ref}/notifications/templates', { params: { path: { ref: ref_ } } })) });
  const [editing, setEditing] = useState<Template | 'new' | null>(null);
  const [previewing, setPreviewing] = useState<Template | null>(null);
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/v1/projects/{ref}/notifications/templates/{id}', { params: { path: { ref: ref_, id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['templates', ref_] }),
  });
  return (
    <section className="panel" aria-label="Templates">
      <div className="panel-head">
        <h2>Templates</h2>
        <Button onClick={() => setEditing('new')}>New template</Button>
      </div>
      <p className="muted">Liquid templates per channel, rendered with each send's data: <span className="mono">{'{{ name }}'}</span>.</p>
      <FormError error={remove.error} />
      {templates.isPending ? <Loading /> : templates.isError ? <ErrorState error={templates.error} retry={() => void templates.refetch()} /> : !templates.data.length ? (
        <Empty title="No templates">Sends can name a template instead of carrying their text.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="data-table">
            <thead><tr><th>Name</th><th>Channels</th><th>Description</th><th>Updated</th><th><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {templates.data.map((tp) => (
                <tr key={tp.id}>
                  <td className="mono">{tp.name}</td>
                  <td>{(['email', 'inapp', 'webhook'] as const).filter((c) => tp[c]).join(', ')}</td>
                  <td>{tp.description}</td>
                  <td>{formatDate(tp.updated_at)}</td>
                  <td className="row-actions">
                    <Button variant="secondary" aria-label={`Preview ${tp.name}`} onClick={() => setPreviewing(tp)}>Preview</Button>
                    <Button variant="secondary" aria-label={`Edit ${tp.name}`} onClick={() => setEditing(tp)}>Edit</Button>
                    <Button variant="danger" aria-label={`Delete template ${tp.name}`} onClick={() => { if (window.confirm(`Delete the template ${tp.name}?`)) remove.mutate(tp.id); }}>Delete</Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing ? <TemplateDialog key={editing === 'new' ? 'new' : editing.id} ref_={ref_} template={editing === 'new' ? null : editing} onClose={() => setEditing(null)} /> : null}
      {previewing ? <PreviewDialog key={previewing.id} ref_={ref_} template={previewing} onClose={() => setPreviewing(null)} /> : null}
    </section>
  );
}

function TemplateDialog({ ref_, template, onClose }: { ref_: string; template: Template | null; onClose: () => void }) {
  const [name, setName] = useState(template?.name ?? '');
  const [description, setDescription] = useState(template?.description ?? '');
  const [subject, setSubject] = useState(template?.email?.subject ?? '');
  const [text, setText] = useState(template?.email?.text ?? '');
  const [html, setHtml] = useState(template?.email?.html ?? '');
  const [title, setTitle] = useState(template?.inapp?.title ?? '');
  const [body, setBody] = useState(template?.inapp?.body ?? '');
  const [payload, setPayload] = useState(template?.webhook ? JSON.stringify(template.webhook.payload, null, 2) : '');
  const [local, setLocal] = useState<string | undefined>();
  const queries = useQueryClient();
  const save = useMutation({
    mutationFn: (input: Record<string, unknown>) =>
      template
        ? unwrap<Template>(api.PATCH('/v1/projects/{ref}/notifications/templates/{id}', { params: { path: { ref: ref_, id: template.id } }, body: input as never }))
        : unwrap<Template>(api.POST('/v1/projects/{ref}/notifications/templates', { params: { path: { ref: ref_ } }, body: input as never })),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: ['templates', ref_] });
      onClose();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const p = parseJsonObject(payload);
    setLocal('problem' in p ? `Payload ${p.problem}` : undefined);
    if ('problem' in p) return;
    const email = subject || text || html ? { subject, ...(text ? { text } : {}), ...(html ? { html } : {}) } : null;
    const inapp = title || body ? { ...(title ? { title } : {}), ...(body ? { body } : {}) } : null;
    const webhook = p.value ? { payload: p.value } : null;
    // A new template leaves absent parts out; an edit removes them (null).
    const parts = template ? { email, inapp, webhook } : { ...(email ? { email } : {}), ...(inapp ? { inapp } : {}), ...(webhook ? { webhook } : {}) };
    save.mutate({ name, description, ...parts });
  };
  return (
    <Modal open onOpenChange={(o) => { if (!o) onClose(); }} title={template ? `Edit ${template.name}` : 'New template'} description="Fill the channels it serves; leave the others empty.">
      <form onSubmit={submit} className="template-form">
        <Field label="Template name" value={name} onChange={(e) => setName(e.target.value)} error={fieldError(save.error, 'name')} autoFocus />
        <Field label="Description" value={description} onChange={(e) => setDescription(e.target.value)} error={fieldError(save.error, 'description')} />
        <fieldset>
          <legend>Email</legend>
          <Field label="Subject" value={subject} onChange={(e) => setSubject(e.target.value)} error={partError(save.error, 'email.subject')} />
          <TextArea id="tpl-text" label="Text" value={text} onChange={setText} error={partError(save.error, 'email.text')} />
          <TextArea id="tpl-html" label="HTML (optional)" value={html} onChange={setHtml} error={partError(save.error, 'email.html')} />
        </fieldset>
        <fieldset>
          <legend>In-app</legend>
          <Field label="Title" value={title} onChange={(e) => setTitle(e.target.value)} error={partError(save.error, 'inapp.title')} />
          <TextArea id="tpl-body" label="Body" value={body} onChange={setBody} error={partError(save.error, 'inapp.body')} />
        </fieldset>
        <TextArea id="tpl-payload" label="Webhook payload (JSON, optional)" value={payload} onChange={setPayload} error={local ?? fieldError(save.error, 'webhook.payload') ?? fieldError(save.error, 'webhook')} rows={4} />
        <FormError error={save.error} />
        <div className="actions">
          <Button type="button" variant="secondary" onClick={onClose}>Cancel</Button>
          <Button type="submit" busy={save.isPending}>{template ? 'Save template' : 'Create template'}</Button>
        </div>
      </form>
    </Modal>
  );
}

function PreviewDialog({ ref_, template, onClose }: { ref_: string; template: Template; onClose: () => void }) {
  const [data, setData] = useState('{\n  "name": "Ada"\n}');
  const [local, setLocal] = useState<string | undefined>();
  const preview = useMutation({
    mutationFn: (d: Record<string, unknown>) => unwrap<Rendered>(api.POST('/v1/projects/{ref}/notifications/templates/{id}/preview', { params: { path: { ref: ref_, id: template.id } }, body: { data: d } })),
  });
  const r = preview.data;
  return (
    <Modal open onOpenChange={(o) => { if (!o) onClose(); }} title={`Preview ${template.name}`} description="Rendered as a send with this data would render it; nothing is sent.">
      <form onSubmit={(e: FormEvent) => {
        e.preventDefault();
        const p = parseJsonObject(data);
        setLocal('problem' in p ? `Data ${p.problem}` : undefined);
        if (!('problem' in p)) preview.mutate(p.value ?? {});
      }}>
        <TextArea id="tpl-preview-data" label="Data (JSON)" value={data} onChange={setData} error={local ?? fieldError(preview.error, 'data')} />
        <FormError error={preview.error} />
        <div className="actions left"><Button type="submit" busy={preview.isPending}>Render</Button></div>
      </form>
      {r ? (
        <div className="preview" data-testid="template-preview">
          {r.email ? <><h3>Email</h3><p><strong>{r.email.subject}</strong></p><pre>{r.email.text}</pre></> : null}
          {r.inapp ? <><h3>In-app</h3><p><strong>{r.inapp.title}</strong></p><p>{r.inapp.body}</p></> : null}
          {r.webhook ? <><h3>Webhook payload</h3><pre>{JSON.stringify(r.webhook.payload, null, 2)}</pre></> : null}
        </div>
      ) : null}
      <div className="actions"><Button type="button" variant="secondary" onClick={onClose}>Close</Button></div>
    </Modal>
  );
}

const TARGETS = [
  { value: 'email', label: 'An email address' },
  { value: 'user_id', label: 'A user (id)' },
  { value: 'topic', label: 'A topic (its subscribers)' },
];

/** A test send through the project's notifications API (the console's key has `notifications:send`). */
export function SendPanel({ ref_ }: { ref_: string }) {
  const templates = useQuery({ queryKey: ['templates', ref_], queryFn: () => unwrap<Template[]>(api.GET('/v1/projects/{ref}/notifications/templates', { params: { path: { ref: ref_ } } })) });
  const queries = useQueryClient();
  const [d, setD] = useState<SendDraft>({ target: 'email', to: '', template: '', title: '', body: '', data: '', channels: [] });
  const [local, setLocal] = useState<Record<string, string>>({});
  const send = useMutation({
    mutationFn: (body: Record<string, unknown>) => sendNotification(ref_, body),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['deliveries', ref_] }),
  });
  const err = (path: string) => local[path] ?? fieldError(send.error, path);
  const sent: SendResult | undefined = send.data;
  return (
    <section className="panel" aria-label="Send a notification">
      <h2>Send a test</h2>
      <form onSubmit={(e: FormEvent) => {
        e.preventDefault();
        const b = sendBody(d);
        setLocal('problems' in b ? b.problems : {});
        if ('body' in b) send.mutate(b.body);
      }}>
        <div className="inline-form">
          <Select label="Send to" value={d.target} onChange={(v) => setD({ ...d, target: v as SendDraft['target'] })} options={TARGETS} />
          <Field label="Recipient" value={d.to} placeholder={d.target === 'email' ? 'ada@example.com' : d.target === 'topic' ? 'news' : 'user id'} onChange={(e) => setD({ ...d, to: e.target.value })} error={err(`to.${d.target}`) ?? err('to')} />
          <Select label="Template" value={d.template} onChange={(v) => setD({ ...d, template: v })} options={[{ value: '', label: 'none (write it here)' }, ...(templates.data ?? []).map((t) => ({ value: t.name, label: t.name }))]} error={err('template')} />
        </div>
        {!d.template ? (
          <div className="inline-form">
            <Field label="Title" value={d.title} onChange={(e) => setD({ ...d, title: e.target.value })} error={err('content.title') ?? err('content')} />
            <Field label="Body" value={d.body} onChange={(e) => setD({ ...d, body: e.target.value })} error={err('content.body')} />
          </div>
        ) : null}
        <TextArea id="send-data" label="Data (JSON, optional)" value={d.data} onChange={(v) => setD({ ...d, data: v })} error={err('data')} rows={2} />
        <fieldset className="actions-set">
          <legend>Channels (none: every channel the recipient can get)</legend>
          {SEND_CHANNELS.map((c) => (
            <label className="check" key={c}>
              <input type="checkbox" checked={d.channels.includes(c)} onChange={(e) => setD({ ...d, channels: e.target.checked ? [...d.channels, c] : d.channels.filter((x): x is SendChannel => x !== c) })} /> {c}
            </label>
          ))}
        </fieldset>
        {err('channels') ? <small className="field-error" role="alert">{err('channels')}</small> : null}
        <FormError error={send.error} />
        <div className="actions left">
          <Button type="submit" busy={send.isPending}>Send</Button>
          {sent ? <span className="ok" role="status">Queued {sent.channels.join(', ') || 'no channel'} (message {sent.id.slice(0, 8)}…){sent.duplicate ? ', a duplicate' : ''}</span> : null}
        </div>
      </form>
    </section>
  );
}
