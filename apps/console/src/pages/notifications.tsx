import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useParams } from 'react-router';
import { api, unwrap } from '../api/client';
import type { Ok } from '../api/types';
import { Button, CopyField, Empty, ErrorState, Field, fieldError, FormError, formatDate, Loading, PageHeader, Select } from '../components/ui';
import { Modal } from '../components/modal';
import { SendPanel, TemplatesPanel } from './notification-templates';

type Webhook = Ok<'WebhooksController_list'>[number];
type WebhookWithSecret = Ok<'WebhooksController_create'>;
type Delivery = Ok<'DeliveriesController_list'>['deliveries'][number];

export function NotificationsPage() {
  const { ref = '' } = useParams();
  return (
    <>
      <PageHeader title="Notifications" />
      <TemplatesPanel ref_={ref} />
      <SendPanel ref_={ref} />
      <WebhooksPanel ref_={ref} />
      <DeliveriesPanel ref_={ref} />
    </>
  );
}

function WebhooksPanel({ ref_ }: { ref_: string }) {
  const queries = useQueryClient();
  const hooks = useQuery({ queryKey: ['webhooks', ref_], queryFn: () => unwrap<Webhook[]>(api.GET('/v1/projects/{ref}/webhooks', { params: { path: { ref: ref_ } } })) });
  const reload = () => void queries.invalidateQueries({ queryKey: ['webhooks', ref_] });
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<{ title: string; secret: string } | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  const rotate = useMutation({
    mutationFn: (id: string) => unwrap<WebhookWithSecret>(api.POST('/v1/projects/{ref}/webhooks/{id}/rotate-secret', { params: { path: { ref: ref_, id } }, body: {} as never })),
    onSuccess: (h) => {
      setShown({ title: 'Copy the new signing secret', secret: h.secret });
      reload();
    },
  });
  const test = useMutation({
    mutationFn: (id: string) => unwrap<Ok<'WebhooksController_test'>>(api.POST('/v1/projects/{ref}/webhooks/{id}/test', { params: { path: { ref: ref_, id } } })),
    onSuccess: (r) => {
      setSent(r.delivery_id);
      void queries.invalidateQueries({ queryKey: ['deliveries', ref_] });
    },
  });
  const remove = useMutation({ mutationFn: (id: string) => unwrap(api.DELETE('/v1/projects/{ref}/webhooks/{id}', { params: { path: { ref: ref_, id } } })), onSuccess: reload });
  return (
    <section className="panel" aria-label="Webhook endpoints">
      <div className="panel-head">
        <h2>Webhook endpoints</h2>
        <Button onClick={() => setCreating(true)}>New endpoint</Button>
      </div>
      <p className="muted">Signed with the Standard Webhooks scheme; retried with backoff for about 28 hours.</p>
      <FormError error={rotate.error ?? test.error ?? remove.error} />
      {sent ? <div className="alert alert-info" role="status">Test event queued (delivery {sent.slice(0, 8)}…); see it in the delivery log below.</div> : null}
      {hooks.isPending ? <Loading /> : hooks.isError ? <ErrorState error={hooks.error} retry={() => void hooks.refetch()} /> : !hooks.data.length ? (
        <Empty title="No webhook endpoints">Add one to receive table changes, user events and sends on your servers.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="data-table">
            <thead><tr><th>URL</th><th>Events</th><th>Description</th><th>Created</th><th><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {hooks.data.map((h) => (
                <tr key={h.id}>
                  <td className="mono">{h.url}</td>
                  <td className="mono">{h.events.join(', ')}</td>
                  <td>{h.description}{h.previous_secret_expires_at ? <div className="muted">old secret signs until {formatDate(h.previous_secret_expires_at)}</div> : null}</td>
                  <td>{formatDate(h.created_at)}</td>
                  <td className="row-actions">
                    <Button variant="secondary" aria-label={`Send a test event to ${h.url}`} busy={test.isPending && test.variables === h.id} onClick={() => test.mutate(h.id)}>Test</Button>
                    <Button variant="secondary" aria-label={`Rotate the secret of ${h.url}`} busy={rotate.isPending && rotate.variables === h.id} onClick={() => rotate.mutate(h.id)}>Rotate</Button>
                    <Button variant="danger" aria-label={`Delete ${h.url}`} onClick={() => { if (window.confirm(`Delete the endpoint ${h.url}?`)) remove.mutate(h.id); }}>Delete</Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateWebhookDialog ref_={ref_} open={creating} onOpenChange={setCreating} onCreated={(h) => { setShown({ title: 'Copy the signing secret', secret: h.secret }); reload(); }} />
      <Modal open={!!shown} onOpenChange={() => undefined} title={shown?.title ?? ''} description="It is shown only once; your server verifies each delivery's signature with it. The previous secret, if any, keeps signing for a day.">
        {shown ? <CopyField label="Signing secret" value={shown.secret} /> : null}
        <div className="actions"><Button onClick={() => setShown(null)}>I've saved it</Button></div>
      </Modal>
    </section>
  );
}

function CreateWebhookDialog({ ref_, open, onOpenChange, onCreated }: { ref_: string; open: boolean; onOpenChange: (o: boolean) => void; onCreated: (h: WebhookWithSecret) => void }) {
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState('*');
  const [description, setDescription] = useState('');
  const m = useMutation({
    mutationFn: () =>
      unwrap<WebhookWithSecret>(
        api.POST('/v1/projects/{ref}/webhooks', {
          params: { path: { ref: ref_ } },
          body: { url, events: events.split(',').map((e) => e.trim()).filter(Boolean), ...(description.trim() ? { description } : {}) },
        }),
      ),
    onSuccess: (h) => {
      onOpenChange(false);
      setUrl('');
      setEvents('*');
      setDescription('');
      m.reset();
      onCreated(h);
    },
  });
  return (
    <Modal open={open} onOpenChange={onOpenChange} title="New webhook endpoint">
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); m.mutate(); }}>
        <Field label="Endpoint URL" value={url} placeholder="https://example.com/hooks/plinth" onChange={(e) => setUrl(e.target.value)} error={fieldError(m.error, 'url')} autoFocus />
        <Field
          label="Events (comma-separated)"
          value={events}
          onChange={(e) => setEvents(e.target.value)}
          error={fieldError(m.error, 'events') ?? fieldError(m.error, 'events.0')}
          hint="notification.sent, <table>.insert|update|delete, user.created, user.signed_in, user.deleted, webhook.test, or * for all"
        />
        <Field label="Description (optional)" value={description} onChange={(e) => setDescription(e.target.value)} error={fieldError(m.error, 'description')} />
        <FormError error={m.error} />
        <div className="actions">
          <Button type="button" variant="secondary" onClick={() => onOpenChange(false)}>Cancel</Button>
          <Button type="submit" busy={m.isPending}>Create endpoint</Button>
        </div>
      </form>
    </Modal>
  );
}

const STATUSES = ['', 'pending', 'retrying', 'succeeded', 'dead'];
const CHANNELS = ['', 'webhook', 'inapp', 'email', 'push'];

function DeliveriesPanel({ ref_ }: { ref_: string }) {
  const [status, setStatus] = useState('');
  const [channel, setChannel] = useState('');
  const queries = useQueryClient();
  const deliveries = useQuery({
    queryKey: ['deliveries', ref_, status, channel],
    queryFn: () =>
      unwrap<{ deliveries: Delivery[] }>(
        api.GET('/v1/projects/{ref}/notifications/deliveries', {
          params: { path: { ref: ref_ }, query: { limit: 50, ...(status ? { status: status as Delivery['status'] } : {}), ...(channel ? { channel: channel as Delivery['channel'] } : {}) } },
        }),
      ),
    refetchInterval: 3000,
  });
  const replay = useMutation({
    mutationFn: (id: string) => unwrap(api.POST('/v1/projects/{ref}/notifications/deliveries/{id}/replay', { params: { path: { ref: ref_, id } } })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['deliveries', ref_] }),
  });
  return (
    <section className="panel" aria-label="Delivery log">
      <div className="panel-head">
        <h2>Delivery log</h2>
        <div className="filter-bar">
          <Select label="Status" value={status} onChange={setStatus} options={STATUSES.map((s) => ({ value: s, label: s || 'any' }))} />
          <Select label="Channel" value={channel} onChange={setChannel} options={CHANNELS.map((c) => ({ value: c, label: c || 'any' }))} />
        </div>
      </div>
      <FormError error={replay.error} />
      {deliveries.isPending ? <Loading /> : deliveries.isError ? <ErrorState error={deliveries.error} retry={() => void deliveries.refetch()} /> : !deliveries.data.deliveries.length ? (
        <Empty title="No deliveries yet">Sends, table changes and test events show here with every attempt.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="data-table">
            <thead><tr><th>Event</th><th>Channel</th><th>Status</th><th>Attempts</th><th>Last attempt</th><th>Created</th><th><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {deliveries.data.deliveries.map((d) => {
                const last = d.attempts[d.attempts.length - 1];
                return (
                  <tr key={d.id} data-delivery={d.id}>
                    <td className="mono">{d.event}</td>
                    <td>{d.channel}</td>
                    <td><span className={`badge ${d.status === 'succeeded' ? 'badge-ok' : d.status === 'dead' ? 'badge-secret' : 'badge-warn'}`}>{d.status}</span></td>
                    <td>{d.attempt_count}</td>
                    <td>
                      {last ? (
                        <>
                          {last.status ?? 'no answer'}{last.latency_ms !== null ? ` · ${last.latency_ms} ms` : ''}
                          {last.error ? <div className="field-error">{last.error}</div> : null}
                        </>
                      ) : d.next_attempt_at ? `next ${formatDate(d.next_attempt_at)}` : '—'}
                    </td>
                    <td>{formatDate(d.created_at)}</td>
                    <td>
                      {d.channel === 'webhook' && (d.status === 'dead' || d.status === 'succeeded') ? (
                        <Button variant="secondary" aria-label={`Replay delivery ${d.id.slice(0, 8)}`} busy={replay.isPending && replay.variables === d.id} onClick={() => replay.mutate(d.id)}>Replay</Button>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
