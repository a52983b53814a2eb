import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useParams } from 'react-router';
import { api, unwrap } from '../api/client';
import type { ApiKey, CreatedKey } from '../api/types';
import { Button, CopyField, Empty, ErrorState, Field, fieldError, FormError, formatDate, Loading, PageHeader, Select } from '../components/ui';
import { Modal } from '../components/modal';

type KeyType = ApiKey['type'];

export function KeysPage() {
  const { ref = '' } = useParams();
  const queries = useQueryClient();
  const keys = useQuery({ queryKey: ['keys', ref], queryFn: () => unwrap<ApiKey[]>(api.GET('/v1/projects/{ref}/keys', { params: { path: { ref } } })) });
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<CreatedKey | null>(null);
  const refresh = () => void queries.invalidateQueries({ queryKey: ['keys', ref] });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/v1/projects/{ref}/keys/{id}', { params: { path: { ref, id } } })),
    onSuccess: refresh,
  });
  const rotate = useMutation({
    mutationFn: (id: string) =>
      unwrap<CreatedKey>(
        api.POST('/v1/projects/{ref}/keys/{id}/rotate', {
          params: { path: { ref, id } },
          // The old key keeps working for a day, so deployed apps can switch over.
          body: { expire_old_at: new Date(Date.now() + 24 * 3600 * 1000).toISOString() },
        }),
      ),
    onSuccess: (k) => {
      setShown(k);
      refresh();
    },
  });
  const live = (keys.data ?? []).filter((k) => !k.revoked_at);
  return (
    <>
      <PageHeader title="API keys">
        <Button onClick={() => setCreating(true)}>New key</Button>
      </PageHeader>
      <FormError error={revoke.error ?? rotate.error} />
      {keys.isPending ? <Loading /> : keys.isError ? <ErrorState error={keys.error} retry={() => void keys.refetch()} /> : !live.length ? (
        <Empty title="No active keys" />
      ) : (
        <div className="table-wrap">
          <table className="data-table">
            <thead>
              <tr><th>Name</th><th>Type</th><th>Key</th><th>Scopes</th><th>Expires</th><th>Last used</th><th><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {live.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td><span className={`badge badge-${k.type}`}>{k.type}</span></td>
                  <td className="mono">{k.display}</td>
                  <td>{k.scopes?.join(', ') ?? 'all'}{k.read_only ? ' (read-only)' : ''}</td>
                  <td>{formatDate(k.expires_at)}</td>
                  <td>{formatDate(k.last_used_at)}</td>
                  <td className="row-actions">
                    <Button variant="secondary" onClick={() => rotate.mutate(k.id)} busy={rotate.isPending && rotate.variables === k.id}>Rotate</Button>
                    <Button variant="danger" onClick={() => { if (window.confirm(`Revoke "${k.name}"? Apps using it stop working at once.`)) revoke.mutate(k.id); }}>Revoke</Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateKeyDialog ref_={ref} open={creating} onOpenChange={setCreating} onCreated={(k) => { setShown(k); refresh(); }} />
      <Modal open={!!shown} onOpenChange={() => undefined} title="Copy your new key" description="It is shown only once.">
        {shown ? <CopyField label={shown.name} value={shown.key} /> : null}
        <div className="actions"><Button onClick={() => setShown(null)}>I've saved it</Button></div>
      </Modal>
    </>
  );
}

function CreateKeyDialog({ ref_, open, onOpenChange, onCreated }: { ref_: string; open: boolean; onOpenChange: (o: boolean) => void; onCreated: (k: CreatedKey) => void }) {
  const [type, setType] = useState<KeyType>('publishable');
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState('rest:read');
  const [tables, setTables] = useState('');
  const [expires, setExpires] = useState('');
  const m = useMutation({
    mutationFn: () => {
      const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
      const body = {
        type,
        name,
        ...(type === 'restricted' ? { scopes: list(scopes), ...(list(tables).length ? { tables: list(tables) } : {}) } : {}),
        ...(expires ? { expires_at: new Date(expires).toISOString() } : {}),
      };
      return unwrap<CreatedKey>(api.POST('/v1/projects/{ref}/keys', { params: { path: { ref: ref_ } }, body }));
    },
    onSuccess: (k) => {
      onOpenChange(false);
      setName('');
      m.reset();
      onCreated(k);
    },
  });
  return (
    <Modal open={open} onOpenChange={onOpenChange} title="New API key">
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); m.mutate(); }}>
        <Select label="Type" value={type} onChange={(v) => setType(v as KeyType)} error={fieldError(m.error, 'type')} options={[
          { value: 'publishable', label: 'Publishable — browsers and apps, subject to table rules' },
          { value: 'secret', label: 'Secret — servers only, bypasses rules' },
          { value: 'restricted', label: 'Restricted — servers, limited scopes and tables' },
        ]} />
        <Field label="Name" value={name} onChange={(e) => setName(e.target.value)} error={fieldError(m.error, 'name')} />
        {type === 'restricted' ? (
          <>
            <Field label="Scopes (comma-separated)" value={scopes} onChange={(e) => setScopes(e.target.value)} error={fieldError(m.error, 'scopes') ?? fieldError(m.error, 'scopes.0')} hint='e.g. "rest:read, storage:write"' />
            <Field label="Tables (optional, comma-separated)" value={tables} onChange={(e) => setTables(e.target.value)} error={fieldError(m.error, 'tables')} />
          </>
        ) : null}
        <Field label="Expires (optional)" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} error={fieldError(m.error, 'expires_at')} />
        <FormError error={m.error} />
        <div className="actions">
          <Button type="button" variant="secondary" onClick={() => onOpenChange(false)}>Cancel</Button>
          <Button type="submit" busy={m.isPending}>Create key</Button>
        </div>
      </form>
    </Modal>
  );
}
