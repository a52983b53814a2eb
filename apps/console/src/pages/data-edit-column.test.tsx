import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { ComponentType } from 'react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderPage, stubApi, type StubbedCall, type StubResponder } from '../test/stub-api';

/**
 * The table page's "Edit" of one column against a stubbed API: the PATCH body it sends (only what changed, as
 * `alter_columns`), and the API's refusal shown beside the field it names.
 */
const calls: StubbedCall[] = [];
let respond: StubResponder;
const items = {
  name: 'items', primary_key: ['id'], indexes: [], rules: [], created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z',
  columns: [
    { name: 'id', type: 'int8', nullable: false, default: 'identity', primary_key: true, unique: false },
    { name: 'qty', type: 'text', nullable: true, default: '1', primary_key: false, unique: false },
  ],
};

let Page: ComponentType;
beforeAll(async () => {
  stubApi(calls, () => respond);
  Page = (await import('./data')).TablePage;
});
afterEach(() => {
  cleanup();
  calls.length = 0;
});

function show() {
  renderPage(Page, '/projects/:ref/tables/:table', '/projects/abc/tables/items');
}

const patches = () => calls.filter((c) => c.method === 'PATCH');

describe('Table page: edit a column', () => {
  it('sends only what changed as alter_columns, with the default read for the new type', async () => {
    respond = (method, url) => (url.pathname === '/v1/projects/abc/tables' || method === 'PATCH' ? { status: 200, body: method === 'PATCH' ? items : [items] } : { status: 404, body: {} });
    show();
    fireEvent.click(await screen.findByRole('button', { name: 'Edit column qty' }));
    const dialog = screen.getByRole('dialog');
    fireEvent.change(within(dialog).getByLabelText('Type'), { target: { value: 'int4' } });
    fireEvent.click(within(dialog).getByLabelText('Unique'));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save column' }));
    await waitFor(() => expect(patches()).toHaveLength(1));
    expect(patches()[0].url.pathname).toBe('/v1/projects/abc/tables/items');
    expect(patches()[0].body).toEqual({ alter_columns: [{ name: 'qty', type: 'int4', unique: true, default: 1 }] });
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
  });

  it("says so when nothing changed, and shows the rows' refusal beside Nullable", async () => {
    respond = (method) =>
      method === 'PATCH'
        ? { status: 409, body: { error: { code: 'conflict', message: "Existing rows don't allow this change", details: [{ path: 'alter_columns.0.nullable', message: 'column "qty" contains null values' }] } } }
        : { status: 200, body: [items] };
    show();
    fireEvent.click(await screen.findByRole('button', { name: 'Edit column qty' }));
    const dialog = screen.getByRole('dialog');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save column' }));
    expect(within(dialog).getByRole('status').textContent).toBe('Nothing changed.');
    expect(patches()).toHaveLength(0);
    fireEvent.click(within(dialog).getByLabelText('Nullable'));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Save column' }));
    await within(dialog).findByText('column "qty" contains null values');
    expect(patches()[0].body).toEqual({ alter_columns: [{ name: 'qty', nullable: false }] });
    // The message is beside the field, not repeated as a banner.
    expect(within(dialog).queryByText("Existing rows don't allow this change")).toBeNull();
  });

  it('offers no nullability or unique change on a primary key column', async () => {
    respond = () => ({ status: 200, body: [items] });
    show();
    fireEvent.click(await screen.findByRole('button', { name: 'Edit column id' }));
    const dialog = screen.getByRole('dialog');
    expect((within(dialog).getByLabelText('Nullable') as HTMLInputElement).disabled).toBe(true);
    expect((within(dialog).getByLabelText('Unique') as HTMLInputElement).disabled).toBe(true);
  });
});
