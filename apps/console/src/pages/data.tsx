import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, ApiError, unwrap } from '../api/client';
import type { operations } from '../api/schema';
import type { Column, Table } from '../api/types';
import { Button, Empty, ErrorState, Field, fieldError, FormError, Loading, PageHeader, Select } from '../components/ui';
import { CardListPage } from '../components/card-list';
import { Modal, TypedConfirm } from '../components/modal';
import { describeRules, type RuleAction, type RuleLike } from '../lib/rules-preview';
import { alterColumnChange, alterColumnError, alterMessages, columnEditDraft, indexColumns, ON_DELETE, parseReference, type ColumnEditDraft, type OnDelete } from '../lib/table-edit';
import { deleteRow, fetchRows, insertRow, parseCell, rowsQuery, showCell, updateRow, type FilterOp, type RowFilter } from '../lib/rest';

const TYPES = ['uuid', 'text', 'int4', 'int8', 'float8', 'numeric', 'bool', 'timestamptz', 'date', 'jsonb', 'text[]', 'int4[]', 'int8[]', 'uuid[]'];
const ACTIONS: RuleAction[] = ['read', 'create', 'update', 'delete'];

function useTables(ref: string) {
  return useQuery({ queryKey: ['tables', ref], queryFn: () => unwrap<Table[]>(api.GET('/v1/projects/{ref}/tables', { params: { path: { ref } } })) });
}

export function TablesPage() {
  const { ref = '' } = useParams();
  return (
    <CardListPage
      title="Tables"
      newLabel="New table"
      query={useTables(ref)}
      empty={{ title: 'No tables yet', text: 'Declare one; the REST API and supabase-js can use it at once.' }}
      keyOf={(t) => t.name}
      card={(t) => (
        <>
          <h2><Link to={`/projects/${ref}/tables/${t.name}`}>{t.name}</Link></h2>
          <p className="muted">{t.columns.length} columns · {t.rules.length ? `${t.rules.length} rules` : 'no rules (server keys only)'}</p>
        </>
      )}
      dialog={(open, onOpenChange) => <CreateTableDialog ref_={ref} open={open} onOpenChange={onOpenChange} />}
    />
  );
}

interface ColumnDraft {
  name: string;
  type: string;
  nullable: boolean;
  default: string;
  primary_key: boolean;
  unique: boolean;
}

const starterColumns = (): ColumnDraft[] => [
  { name: 'id', type: 'uuid', nullable: false, default: 'gen_random_uuid()', primary_key: true, unique: false },
  { name: 'created_at', type: 'timestamptz', nullable: false, default: 'now()', primary_key: false, unique: false },
];

/** A default as the API takes it: the special words as they are, numbers and booleans for such columns. */
function defaultValue(c: ColumnDraft): unknown {
  const d = c.default.trim();
  if (['now()', 'gen_random_uuid()', 'auth.uid', 'identity'].includes(d)) return d;
  if (['int4', 'int8', 'float8', 'numeric'].includes(c.type) && d !== '' && Number.isFinite(Number(d))) return Number(d);
  if (c.type === 'bool' && (d === 'true' || d === 'false')) return d === 'true';
  return d;
}

function CreateTableDialog({ ref_, open, onOpenChange }: { ref_: string; open: boolean; onOpenChange: (o: boolean) => void }) {
  const [name, setName] = useState('');
  const [columns, setColumns] = useState<ColumnDraft[]>(starterColumns);
  const queries = useQueryClient();
  const navigate = useNavigate();
  const m = useMutation({
    mutationFn: () =>
      unwrap<Table>(
        api.POST('/v1/projects/{ref}/tables', {
          params: { path: { ref: ref_ } },
          body: {
            name,
            columns: columns.map((c) => ({
              name: c.name,
              type: c.type,
              nullable: c.nullable,
              ...(c.default.trim() ? { default: defaultValue(c) as string } : {}),
              ...(c.primary_key ? { primary_key: true } : {}),
              ...(c.unique ? { unique: true } : {}),
            })),
          },
        }),
      ),
    onSuccess: async (t) => {
      await queries.invalidateQueries({ queryKey: ['tables', ref_] });
      onOpenChange(false);
      setName('');
      setColumns(starterColumns());
      m.reset();
      navigate(`/projects/${ref_}/tables/${t.name}`);
    },
  });
  const set = (i: number, patch: Partial<ColumnDraft>) => setColumns((cs) => cs.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  return (
    <Modal open={open} onOpenChange={onOpenChange} title="New table" description="Lowercase names; defaults may be now(), gen_random_uuid(), auth.uid (the signed-in user) or a value.">
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); m.mutate(); }}>
        <Field label="Table name" value={name} onChange={(e) => setName(e.target.value)} error={fieldError(m.error, 'name')} autoFocus />
        <fieldset className="columns-editor">
          <legend>Columns</legend>
          {columns.map((c, i) => (
            <div className="column-row" key={i}>
              <Field label="Name" value={c.name} onChange={(e) => set(i, { name: e.target.value })} error={fieldError(m.error, `columns.${i}.name`)} />
              <div className="field">
                <label htmlFor={`col-type-${i}`}>Type</label>
                <select id={`col-type-${i}`} value={c.type} onChange={(e) => set(i, { type: e.target.value })}>
                  {TYPES.map((t) => <option key={t}>{t}</option>)}
                </select>
                {fieldError(m.error, `columns.${i}.type`) ? <small className="field-error">{fieldError(m.error, `columns.${i}.type`)}</small> : null}
              </div>
              <Field label="Default" value={c.default} onChange={(e) => set(i, { default: e.target.value })} error={fieldError(m.error, `columns.${i}.default`)} />
              <label className="check"><input type="checkbox" checked={c.nullable} onChange={(e) => set(i, { nullable: e.target.checked })} /> Nullable</label>
              <label className="check"><input type="checkbox" checked={c.primary_key} onChange={(e) => set(i, { primary_key: e.target.checked })} /> Primary key</label>
              <label className="check"><input type="checkbox" checked={c.unique} onChange={(e) => set(i, { unique: e.target.checked })} /> Unique</label>
              <Button type="button" variant="ghost" aria-label={`Remove column ${c.name || i + 1}`} onClick={() => setColumns((cs) => cs.filter((_, j) => j !== i))}>✕</Button>
            </div>
          ))}
          <Button type="button" variant="secondary" onClick={() => setColumns((cs) => [...cs, { name: '', type: 'text', nullable: true, default: '', primary_key: false, unique: false }])}>
            Add column
          </Button>
        </fieldset>
        <FormError error={m.error} />
        <div className="actions">
          <Button type="button" variant="secondary" onClick={() => onOpenChange(false)}>Cancel</Button>
          <Button type="submit" busy={m.isPending}>Create table</Button>
        </div>
      </form>
    </Modal>
  );
}

export function TablePage() {
  const { ref = '', table = '' } = useParams();
  const tables = useTables(ref);
  const queries = useQueryClient();
  const navigate = useNavigate();
  const [deleting, setDeleting] = useState(false);
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/v1/projects/{ref}/tables/{name}', { params: { path: { ref, name: table } } })),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: ['tables', ref] });
      navigate(`/projects/${ref}/tables`);
    },
  });
  if (tables.isPending) return <Loading />;
  if (tables.isError) return <ErrorState error={tables.error} retry={() => void tables.refetch()} />;
  const t = tables.data.find((x) => x.name === table);
  if (!t) return <Empty title={`No table "${table}"`} />;
  return (
    <>
      <PageHeader title={t.name}>
        <Button variant="danger" onClick={() => setDeleting(true)}>Delete table…</Button>
      </PageHeader>
      <ColumnsPanel ref_={ref} table={t} />
      <IndexesPanel ref_={ref} table={t} />
      <RulesEditor ref_={ref} table={t} />
      <RowsGrid ref_={ref} table={t} />
      <TypedConfirm open={deleting} onOpenChange={setDeleting} title={`Delete table ${t.name}?`} word={t.name} action="Delete table" onConfirm={() => remove.mutate()} busy={remove.isPending} error={remove.error} />
    </>
  );
}

type TablePatch = NonNullable<operations['TablesController_patch']['requestBody']>['content']['application/json'];

/** One change to the table (PATCH); the tables and, as columns change, the rows are read again. */
function useAlterTable(ref_: string, table: string, onDone?: () => void) {
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (body: TablePatch) => unwrap<Table>(api.PATCH('/v1/projects/{ref}/tables/{name}', { params: { path: { ref: ref_, name: table } }, body })),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: ['tables', ref_] });
      await queries.invalidateQueries({ queryKey: ['rows', ref_, table] });
      onDone?.();
    },
  });
}

/** The API's messages about one kind of change, beside the form that made it. */
function AlterErrors({ error, kind }: { error: unknown; kind: string }) {
  const messages = alterMessages(error, kind);
  return messages.length ? <ul className="field-error" role="alert">{messages.map((m, i) => <li key={i}>{m}</li>)}</ul> : null;
}

/** The columns: rename or drop one, or add one (with a reference to another table's column). */
function ColumnsPanel({ ref_, table: t }: { ref_: string; table: Table }) {
  const drop = useAlterTable(ref_, t.name);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [editing, setEditing] = useState<Column | null>(null);
  return (
    <section className="panel" aria-label="Columns">
      <h2>Columns</h2>
      <FormError error={drop.error} />
      <AlterErrors error={drop.error} kind="drop_columns" />
      <div className="table-wrap">
        <table className="data-table">
          <thead><tr><th>Name</th><th>Type</th><th>Default</th><th>Nullable</th><th>References</th><th><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {t.columns.map((c) => (
              <tr key={c.name}>
                <td className="mono">{c.name} {t.primary_key.includes(c.name) ? <span className="badge">primary key</span> : null}{c.unique ? <span className="badge">unique</span> : null}</td>
                <td className="mono">{c.type}</td>
                <td className="mono">{c.default === undefined ? '' : showCell(c.default)}</td>
                <td>{c.nullable ? 'yes' : 'no'}</td>
                <td className="mono">{c.references ? `${c.references.table}.${c.references.column} (on delete ${c.references.on_delete})` : ''}</td>
                <td className="row-actions">
                  <Button variant="ghost" aria-label={`Edit column ${c.name}`} onClick={() => setEditing(c)}>Edit</Button>
                  <Button variant="ghost" aria-label={`Rename column ${c.name}`} onClick={() => setRenaming(c.name)}>Rename</Button>
                  <Button
                    variant="ghost"
                    aria-label={`Drop column ${c.name}`}
                    busy={drop.isPending && drop.variables?.drop_columns?.[0] === c.name}
                    onClick={() => { if (window.confirm(`Drop the column ${c.name} and its data?`)) drop.mutate({ drop_columns: [c.name] }); }}
                  >
                    Drop
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <AddColumnForm ref_={ref_} table={t} />
      <RenameColumnDialog ref_={ref_} table={t.name} column={renaming} onClose={() => setRenaming(null)} />
      {editing ? <EditColumnDialog key={editing.name} ref_={ref_} table={t} column={editing} onClose={() => setEditing(null)} /> : null}
    </section>
  );
}

/**
 * Changes one column's type (the rows are cast), nullability, default and uniqueness with `alter_columns`; the API's
 * messages (including the rows that refuse the change) show beside the field they are about.
 */
function EditColumnDialog({ ref_, table, column, onClose }: { ref_: string; table: Table; column: Column; onClose: () => void }) {
  const [d, setD] = useState<ColumnEditDraft>(() => columnEditDraft(column));
  const [unchanged, setUnchanged] = useState(false);
  const m = useAlterTable(ref_, table.name, onClose);
  const primary = table.primary_key.includes(column.name);
  const types = TYPES.includes(column.type) ? TYPES : [column.type, ...TYPES];
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const change = alterColumnChange(column, d);
    setUnchanged(change === null);
    if (change) m.mutate({ alter_columns: [change as NonNullable<TablePatch['alter_columns']>[number]] });
  };
  return (
    <Modal open onOpenChange={(o) => { if (!o) onClose(); }} title={`Edit column ${column.name}`} description="Existing rows are checked: a value that can't be cast, a null under Not null or a duplicate under Unique refuses the change, and nothing changes.">
      <form onSubmit={submit} aria-label={`Edit column ${column.name}`}>
        <Select label="Type" value={d.type} onChange={(v) => setD({ ...d, type: v })} options={types.map((x) => ({ value: x, label: x }))} error={alterColumnError(m.error, 'type')} />
        <Field label="Default" value={d.default} placeholder="none" hint="now(), gen_random_uuid(), auth.uid or a value; empty drops it" onChange={(e) => setD({ ...d, default: e.target.value })} error={alterColumnError(m.error, 'default')} />
        <div className="field">
          <label className="check"><input type="checkbox" checked={d.nullable} disabled={primary} onChange={(e) => setD({ ...d, nullable: e.target.checked })} /> Nullable</label>
          {alterColumnError(m.error, 'nullable') ? <small className="field-error" role="alert">{alterColumnError(m.error, 'nullable')}</small> : null}
        </div>
        <div className="field">
          <label className="check"><input type="checkbox" checked={d.unique} disabled={primary} onChange={(e) => setD({ ...d, unique: e.target.checked })} /> Unique</label>
          {alterColumnError(m.error, 'unique') ? <small className="field-error" role="alert">{alterColumnError(m.error, 'unique')}</small> : null}
        </div>
        {alterColumnError(m.error, 'name') ? <small className="field-error" role="alert">{alterColumnError(m.error, 'name')}</small> : null}
        {unchanged ? <p className="muted" role="status">Nothing changed.</p> : null}
        {/* The whole-request message only when no field carries it. */}
        {alterMessages(m.error, 'alter_columns').length ? null : <FormError error={m.error} />}
        <div className="actions">
          <Button type="button" variant="secondary" onClick={onClose}>Cancel</Button>
          <Button type="submit" busy={m.isPending}>Save column</Button>
        </div>
      </form>
    </Modal>
  );
}

function RenameColumnDialog({ ref_, table, column, onClose }: { ref_: string; table: string; column: string | null; onClose: () => void }) {
  const [to, setTo] = useState('');
  const m = useAlterTable(ref_, table, () => { setTo(''); onClose(); });
  return (
    <Modal open={column !== null} onOpenChange={(o) => { if (!o) { m.reset(); setTo(''); onClose(); } }} title={`Rename column ${column ?? ''}`} description="Rules that mention the column follow the new name.">
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); if (column) m.mutate({ rename_columns: [{ from: column, to }] }); }}>
        <Field label="New name" value={to} onChange={(e) => setTo(e.target.value)} error={fieldError(m.error, 'rename_columns.0.to') ?? fieldError(m.error, 'rename_columns')} autoFocus />
        <FormError error={m.error} />
        <div className="actions">
          <Button type="button" variant="secondary" onClick={onClose}>Cancel</Button>
          <Button type="submit" busy={m.isPending}>Rename</Button>
        </div>
      </form>
    </Modal>
  );
}

/** Alters the table: one new column (nullable, or with a default, so existing rows stay valid), optionally a reference. */
function AddColumnForm({ ref_, table }: { ref_: string; table: Table }) {
  const empty: ColumnDraft = { name: '', type: 'text', nullable: true, default: '', primary_key: false, unique: false };
  const [c, setC] = useState<ColumnDraft>(empty);
  const [refText, setRefText] = useState('');
  const [onDelete, setOnDelete] = useState<OnDelete>('no action');
  const [local, setLocal] = useState<string | undefined>();
  const m = useAlterTable(ref_, table.name, () => { setC(empty); setRefText(''); setOnDelete('no action'); });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const r = parseReference(refText, onDelete);
    setLocal('problem' in r ? r.problem : undefined);
    if ('problem' in r) return;
    m.mutate({
      add_columns: [{
        name: c.name, type: c.type, nullable: c.nullable,
        ...(c.default.trim() ? { default: defaultValue(c) as string } : {}),
        ...(c.unique ? { unique: true } : {}),
        ...(r.reference ? { references: r.reference } : {}),
      }],
    });
  };
  return (
    <form className="inline-form add-column" onSubmit={submit} aria-label="Add a column">
      <Field label="New column" value={c.name} onChange={(e) => setC({ ...c, name: e.target.value })} error={fieldError(m.error, 'add_columns.0.name')} />
      <div className="field">
        <label htmlFor="add-col-type">Type</label>
        <select id="add-col-type" value={c.type} onChange={(e) => setC({ ...c, type: e.target.value })}>
          {TYPES.map((t) => <option key={t}>{t}</option>)}
        </select>
      </div>
      <Field label="Default" value={c.default} onChange={(e) => setC({ ...c, default: e.target.value })} error={fieldError(m.error, 'add_columns.0.default')} />
      <Field label="References (table.column, optional)" value={refText} placeholder="profiles.id" onChange={(e) => setRefText(e.target.value)} error={local ?? fieldError(m.error, 'add_columns.0.references') ?? fieldError(m.error, 'add_columns.0.references.table')} />
      <Select label="On delete" value={onDelete} onChange={(v) => setOnDelete(v as OnDelete)} options={ON_DELETE.map((o) => ({ value: o, label: o }))} />
      <label className="check"><input type="checkbox" checked={c.nullable} onChange={(e) => setC({ ...c, nullable: e.target.checked })} /> Nullable</label>
      <label className="check"><input type="checkbox" checked={c.unique} onChange={(e) => setC({ ...c, unique: e.target.checked })} /> Unique</label>
      <Button type="submit" variant="secondary" busy={m.isPending}>Add column</Button>
      <FormError error={m.error} />
      <AlterErrors error={m.error} kind="add_columns" />
    </form>
  );
}

/** Indexes: list, drop, and add one over some columns (unique or not). */
function IndexesPanel({ ref_, table: t }: { ref_: string; table: Table }) {
  const [columns, setColumns] = useState('');
  const [unique, setUnique] = useState(false);
  const add = useAlterTable(ref_, t.name, () => { setColumns(''); setUnique(false); });
  const drop = useAlterTable(ref_, t.name);
  return (
    <section className="panel" aria-label="Indexes">
      <h2>Indexes</h2>
      <FormError error={drop.error} />
      <AlterErrors error={drop.error} kind="drop_indexes" />
      {!t.indexes.length ? <p className="muted">No indexes besides the primary key and unique columns.</p> : (
        <ul className="plain-list">
          {t.indexes.map((i) => (
            <li key={i.name}>
              <span className="mono">{i.name}</span> on <span className="mono">{i.columns.join(', ')}</span> {i.unique ? <span className="badge">unique</span> : null}{' '}
              <Button variant="ghost" aria-label={`Drop index ${i.name}`} onClick={() => { if (window.confirm(`Drop the index ${i.name}?`)) drop.mutate({ drop_indexes: [i.name] }); }}>Drop</Button>
            </li>
          ))}
        </ul>
      )}
      <form className="inline-form" aria-label="Add an index" onSubmit={(e: FormEvent) => { e.preventDefault(); add.mutate({ add_indexes: [{ columns: indexColumns(columns), ...(unique ? { unique: true } : {}) }] }); }}>
        <Field label="Index columns (comma-separated)" value={columns} placeholder="owner_id, created_at" onChange={(e) => setColumns(e.target.value)} error={fieldError(add.error, 'add_indexes.0.columns')} />
        <label className="check"><input type="checkbox" checked={unique} onChange={(e) => setUnique(e.target.checked)} /> Unique</label>
        <Button type="submit" variant="secondary" busy={add.isPending}>Add index</Button>
        <FormError error={add.error} />
        <AlterErrors error={add.error} kind="add_indexes" />
      </form>
    </section>
  );
}

interface ConditionDraft {
  column: string;
  value: string;
}
interface RuleDraft {
  role: RuleLike['role'];
  actions: RuleAction[];
  conditions: ConditionDraft[];
}

function toDraft(r: RuleLike): RuleDraft {
  return {
    role: r.role,
    actions: Array.isArray(r.action) ? r.action : [r.action],
    conditions: Object.entries(r.where ?? {}).map(([column, value]) => ({ column, value: typeof value === 'string' ? value : JSON.stringify(value) })),
  };
}

/** Condition text as a rule value: `$auth.…` and plain words stay strings; numbers, booleans, null and JSON parse. */
function conditionValue(text: string): unknown {
  const t = text.trim();
  if (t.startsWith('$')) return t;
  try {
    return JSON.parse(t);
  } catch {
    return t;
  }
}

export function fromDraft(d: RuleDraft): RuleLike {
  const where = Object.fromEntries(d.conditions.filter((c) => c.column).map((c) => [c.column, conditionValue(c.value)]));
  return { role: d.role, action: d.actions, ...(Object.keys(where).length ? { where } : {}) };
}

function RulesEditor({ ref_, table }: { ref_: string; table: Table }) {
  const [drafts, setDrafts] = useState<RuleDraft[]>(() => table.rules.map(toDraft));
  const queries = useQueryClient();
  const rules = useMemo(() => drafts.map(fromDraft), [drafts]);
  const save = useMutation({
    mutationFn: () => unwrap(api.PUT('/v1/projects/{ref}/tables/{name}/rules', { params: { path: { ref: ref_, name: table.name } }, body: rules as never })),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['tables', ref_] }),
  });
  const set = (i: number, patch: Partial<RuleDraft>) => setDrafts((ds) => ds.map((d, j) => (j === i ? { ...d, ...patch } : d)));
  const ownerOnly = table.columns.find((c) => c.name === 'owner_id' || c.name === 'user_id')?.name;
  return (
    <section className="panel">
      <h2>Rules</h2>
      <p className="muted">Who may do what with rows through the publishable key. Server keys bypass rules.</p>
      {drafts.map((d, i) => (
        <div className="rule" key={i}>
          <div className="rule-head">
            <div className="field">
              <label htmlFor={`rule-role-${i}`}>Who</label>
              <select id={`rule-role-${i}`} value={d.role} onChange={(e) => set(i, { role: e.target.value as RuleLike['role'] })}>
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
          {d.conditions.map((c, k) => (
            <div className="condition" key={k}>
              <span className="muted">where</span>
              <select aria-label="Column" value={c.column} onChange={(e) => set(i, { conditions: d.conditions.map((x, y) => (y === k ? { ...x, column: e.target.value } : x)) })}>
                <option value="">column…</option>
                {table.columns.map((col) => <option key={col.name}>{col.name}</option>)}
              </select>
              <span className="muted">is</span>
              <input aria-label="Value" value={c.value} onChange={(e) => set(i, { conditions: d.conditions.map((x, y) => (y === k ? { ...x, value: e.target.value } : x)) })} />
              <Button variant="ghost" onClick={() => set(i, { conditions: d.conditions.map((x, y) => (y === k ? { ...x, value: '$auth.uid' } : x)) })}>their id</Button>
              <Button variant="ghost" aria-label="Remove condition" onClick={() => set(i, { conditions: d.conditions.filter((_, y) => y !== k) })}>✕</Button>
            </div>
          ))}
          <Button variant="ghost" onClick={() => set(i, { conditions: [...d.conditions, { column: '', value: '' }] })}>+ condition</Button>
          {fieldError(save.error, String(i)) ? <small className="field-error">{fieldError(save.error, String(i))}</small> : null}
        </div>
      ))}
      <div className="actions left">
        <Button variant="secondary" onClick={() => setDrafts((ds) => [...ds, { role: 'authenticated', actions: ['read'], conditions: [] }])}>Add rule</Button>
        {ownerOnly ? (
          <Button
            variant="secondary"
            onClick={() => setDrafts([{ role: 'authenticated', actions: ['read', 'create', 'update', 'delete'], conditions: [{ column: ownerOnly, value: '$auth.uid' }] }])}
          >
            Owner only ({ownerOnly})
          </Button>
        ) : null}
      </div>
      <div className="preview" aria-live="polite">
        <h3>In plain words</h3>
        <ul>{describeRules(rules).map((line, i) => <li key={i}>{line}</li>)}</ul>
      </div>
      <FormError error={save.error} />
      {save.error instanceof ApiError && Object.keys(save.error.fields).length ? (
        <ul className="field-error">{Object.entries(save.error.fields).map(([p, msg]) => <li key={p}>{p}: {msg}</li>)}</ul>
      ) : null}
      <div className="actions left">
        <Button onClick={() => save.mutate()} busy={save.isPending}>Save rules</Button>
        {save.isSuccess ? <span className="ok" role="status">Saved</span> : null}
      </div>
    </section>
  );
}

const PAGE = 25;
const OPS: FilterOp[] = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'ilike', 'is'];

/** Rows through the project's REST API: paging, one filter, inline edit of a cell, insert and delete. */
function RowsGrid({ ref_, table }: { ref_: string; table: Table }) {
  const [offset, setOffset] = useState(0);
  const [filter, setFilter] = useState<RowFilter>({ column: '', op: 'eq', value: '' });
  const [applied, setApplied] = useState<RowFilter[]>([]);
  const [editing, setEditing] = useState<{ row: number; column: string; text: string } | null>(null);
  const [adding, setAdding] = useState(false);
  const queries = useQueryClient();
  const key = ['rows', ref_, table.name, offset, applied];
  const pk = table.primary_key;
  const order = pk.length ? pk.map((c) => `${c}.asc`).join(',') : undefined;
  const rows = useQuery({ queryKey: key, queryFn: () => fetchRows(ref_, table.name, rowsQuery({ filters: applied, order, limit: PAGE, offset })) });
  const reload = () => void queries.invalidateQueries({ queryKey: ['rows', ref_, table.name] });
  const save = useMutation({
    mutationFn: async (e: { row: Record<string, unknown>; column: string; text: string }) => {
      const col = table.columns.find((c) => c.name === e.column)!;
      let value: unknown;
      try {
        value = parseCell(col.type, e.text);
      } catch (err) {
        throw new ApiError(400, `${e.column}: ${(err as Error).message}`, 'invalid', {});
      }
      await updateRow(ref_, table.name, Object.fromEntries(pk.map((c) => [c, e.row[c]])), { [e.column]: value });
    },
    onSuccess: () => {
      setEditing(null);
      reload();
    },
  });
  const del = useMutation({ mutationFn: (row: Record<string, unknown>) => deleteRow(ref_, table.name, Object.fromEntries(pk.map((c) => [c, row[c]]))), onSuccess: reload });
  const total = rows.data?.total ?? null;
  return (
    <section className="panel">
      <div className="panel-head">
        <h2>Rows</h2>
        <Button onClick={() => setAdding(true)}>Insert row</Button>
      </div>
      <form className="filter-bar" onSubmit={(e) => { e.preventDefault(); setOffset(0); setApplied(filter.column && filter.value ? [filter] : []); }}>
        <select aria-label="Filter column" value={filter.column} onChange={(e) => setFilter({ ...filter, column: e.target.value })}>
          <option value="">Filter by…</option>
          {table.columns.map((c) => <option key={c.name}>{c.name}</option>)}
        </select>
        <select aria-label="Filter operator" value={filter.op} onChange={(e) => setFilter({ ...filter, op: e.target.value as FilterOp })}>
          {OPS.map((o) => <option key={o}>{o}</option>)}
        </select>
        <input aria-label="Filter value" value={filter.value} onChange={(e) => setFilter({ ...filter, value: e.target.value })} />
        <Button type="submit" variant="secondary">Apply</Button>
        {applied.length ? <Button type="button" variant="ghost" onClick={() => { setApplied([]); setFilter({ column: '', op: 'eq', value: '' }); }}>Clear</Button> : null}
      </form>
      <FormError error={save.error ?? del.error} />
      {rows.isPending ? <Loading label="Loading rows…" /> : rows.isError ? <ErrorState error={rows.error} retry={() => void rows.refetch()} /> : !rows.data.rows.length ? (
        <Empty title={applied.length ? 'No rows match' : 'No rows yet'} />
      ) : (
        <div className="table-wrap">
          <table className="data-table grid" aria-label={`${table.name} rows`}>
            <thead>
              <tr>{table.columns.map((c) => <th key={c.name} scope="col">{c.name}</th>)}<th><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {rows.data.rows.map((r, i) => (
                <tr key={pk.map((c) => showCell(r[c])).join('|') || i}>
                  {table.columns.map((c) => (
                    <td key={c.name} className="mono">
                      {editing && editing.row === i && editing.column === c.name ? (
                        <form onSubmit={(e) => { e.preventDefault(); save.mutate({ row: r, column: c.name, text: editing.text }); }}>
                          <input
                            aria-label={`Edit ${c.name}`}
                            autoFocus
                            value={editing.text}
                            onChange={(e) => setEditing({ ...editing, text: e.target.value })}
                            onKeyDown={(e) => { if (e.key === 'Escape') setEditing(null); }}
                          />
                        </form>
                      ) : (
                        <button
                          type="button"
                          className="cell"
                          disabled={!pk.length}
                          title={pk.length ? 'Edit' : 'Tables without a primary key are read-only here'}
                          onClick={() => setEditing({ row: i, column: c.name, text: showCell(r[c.name]) })}
                        >
                          {showCell(r[c.name]) || <span className="muted">null</span>}
                        </button>
                      )}
                    </td>
                  ))}
                  <td>{pk.length ? <Button variant="ghost" onClick={() => { if (window.confirm('Delete this row?')) del.mutate(r); }}>Delete</Button> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="pager">
        <Button variant="secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Previous</Button>
        <span className="muted">
          {rows.data?.rows.length ? `${offset + 1}–${offset + rows.data.rows.length}${total !== null ? ` of ${total}` : ''}` : ''}
        </span>
        <Button variant="secondary" disabled={total !== null ? offset + PAGE >= total : (rows.data?.rows.length ?? 0) < PAGE} onClick={() => setOffset(offset + PAGE)}>Next</Button>
      </div>
      <InsertRowDialog ref_={ref_} table={table} open={adding} onOpenChange={setAdding} onDone={reload} />
    </section>
  );
}

function InsertRowDialog({ ref_, table, open, onOpenChange, onDone }: { ref_: string; table: Table; open: boolean; onOpenChange: (o: boolean) => void; onDone: () => void }) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [local, setLocal] = useState<Record<string, string>>({});
  const m = useMutation({
    mutationFn: () => {
      const row: Record<string, unknown> = {};
      const problems: Record<string, string> = {};
      for (const c of table.columns) {
        const text = values[c.name] ?? '';
        if (text === '') continue; // left to its default (or null)
        try {
          row[c.name] = parseCell(c.type, text);
        } catch (e) {
          problems[c.name] = (e as Error).message;
        }
      }
      setLocal(problems);
      if (Object.keys(problems).length) throw new ApiError(400, 'Some values do not fit their columns', 'invalid', problems);
      return insertRow(ref_, table.name, row);
    },
    onSuccess: () => {
      setValues({});
      onOpenChange(false);
      m.reset();
      onDone();
    },
  });
  return (
    <Modal open={open} onOpenChange={onOpenChange} title={`Insert into ${table.name}`} description="Leave a field empty for its default.">
      <form onSubmit={(e) => { e.preventDefault(); m.mutate(); }}>
        {table.columns.map((c) => (
          <Field
            key={c.name}
            label={`${c.name} (${c.type})`}
            value={values[c.name] ?? ''}
            placeholder={c.default !== undefined ? `default: ${showCell(c.default)}` : c.nullable ? 'null' : ''}
            onChange={(e) => setValues({ ...values, [c.name]: e.target.value })}
            error={local[c.name]}
          />
        ))}
        <FormError error={m.error} />
        <div className="actions">
          <Button type="button" variant="secondary" onClick={() => onOpenChange(false)}>Cancel</Button>
          <Button type="submit" busy={m.isPending}>Insert</Button>
        </div>
      </form>
    </Modal>
  );
}
