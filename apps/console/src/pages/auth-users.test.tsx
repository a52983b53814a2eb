import { cleanup, fireEvent, screen, waitFor } from '@testing-library/react';
import type { ComponentType } from 'react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderPage, stubApi, type StubbedCall, type StubResponder } from '../test/stub-api';

/**
 * The Users page against a stubbed API: what it asks for (search, pages), how it shows users' states, and what its
 * buttons send (ban with the chosen duration, unban, confirm), plus the API's message beside the password field.
 */
const calls: StubbedCall[] = [];
let respond: StubResponder;
const user = (n: number, over: Record<string, unknown> = {}) => ({
  id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, email: `u${n}@example.com`, email_confirmed_at: '2026-01-01T00:00:00Z',
  created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', is_anonymous: false, user_metadata: {}, app_metadata: {}, identities: [], ...over,
});

let Page: ComponentType;
beforeAll(async () => {
  stubApi(calls, () => respond);
  Page = (await import('./auth-users')).AuthUsersPage;
});
afterEach(() => {
  cleanup();
  calls.length = 0;
});

function show() {
  renderPage(Page, '/projects/:ref/auth/users', '/projects/abc/auth/users');
}

describe('Auth → Users page', () => {
  it('lists a page with each user\'s state, searches, and pages on', async () => {
    respond = (method, url) => {
      const page = Number(url.searchParams.get('page'));
      const users = url.searchParams.get('search') ? [user(1)] : page === 1 ? [user(1), user(2, { email_confirmed_at: undefined }), user(3, { banned_until: '2999-01-01T00:00:00Z' })] : [user(4)];
      return { status: 200, body: { users, total: url.searchParams.get('search') ? 1 : 21, page, per_page: 20 } };
    };
    show();
    await screen.findByText('u1@example.com');
    expect(screen.getByText('unconfirmed')).toBeTruthy();
    expect(screen.getByText('banned')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Unban u3@example.com' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Confirm u2@example.com' })).toBeTruthy();
    expect(screen.getByText('1–3 of 21')).toBeTruthy();
    expect(calls[0].url.pathname).toBe('/v1/projects/abc/auth/users');
    expect(Object.fromEntries(calls[0].url.searchParams)).toEqual({ page: '1', per_page: '20' });

    fireEvent.click(screen.getByRole('button', { name: 'Next' }));
    await screen.findByText('u4@example.com');
    expect(calls.at(-1)!.url.searchParams.get('page')).toBe('2');

    fireEvent.change(screen.getByLabelText('Search users'), { target: { value: 'u1@' } });
    fireEvent.click(screen.getByRole('button', { name: 'Search' }));
    await screen.findByText('1–1 of 1');
    expect(Object.fromEntries(calls.at(-1)!.url.searchParams)).toEqual({ search: 'u1@', page: '1', per_page: '20' });
  });

  it('bans for the chosen duration, unbans and confirms with PATCH bodies the API takes', async () => {
    respond = (method, url) => (method === 'GET' ? { status: 200, body: { users: [user(1), user(2, { email_confirmed_at: undefined }), user(3, { banned_until: '2999-01-01T00:00:00Z' })], total: 3, page: 1, per_page: 20 } } : { status: 200, body: user(Number(url.pathname.slice(-1))) });
    show();
    fireEvent.click(await screen.findByRole('button', { name: 'Ban u1@example.com' }));
    fireEvent.change(screen.getByLabelText('For'), { target: { value: '168h' } });
    fireEvent.click(screen.getByRole('button', { name: 'Ban user' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'PATCH')).toBe(true));
    const ban = calls.find((c) => c.method === 'PATCH')!;
    expect([ban.url.pathname, ban.body]).toEqual([`/v1/projects/abc/auth/users/${user(1).id}`, { ban_duration: '168h' }]);

    fireEvent.click(screen.getByRole('button', { name: 'Unban u3@example.com' }));
    fireEvent.click(screen.getByRole('button', { name: 'Confirm u2@example.com' }));
    await waitFor(() => expect(calls.filter((c) => c.method === 'PATCH')).toHaveLength(3));
    expect(calls.filter((c) => c.method === 'PATCH').slice(1).map((c) => c.body)).toEqual([{ ban_duration: 'none' }, { email_confirm: true }]);
  });

  it("shows the API's refusal of a weak password beside the password field", async () => {
    respond = (method) =>
      method === 'GET'
        ? { status: 200, body: { users: [], total: 0, page: 1, per_page: 20 } }
        : { status: 400, body: { error: { code: 'validation_failed', message: 'Password should be at least 6 characters.', details: [{ path: 'password', message: 'Password should be at least 6 characters.' }] } } };
    show();
    await screen.findByText('No users yet');
    fireEvent.click(screen.getByRole('button', { name: 'New user' }));
    fireEvent.change(screen.getByLabelText('Email'), { target: { value: 'new@example.com' } });
    fireEvent.change(screen.getByLabelText('Password (optional)'), { target: { value: 'ab' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create user' }));
    const password = screen.getByLabelText('Password (optional)');
    await waitFor(() => expect(password.getAttribute('aria-invalid')).toBe('true'));
    expect(document.getElementById(password.getAttribute('aria-describedby')!)!.textContent).toBe('Password should be at least 6 characters.');
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ email: 'new@example.com', password: 'ab', email_confirm: true });
  });
});
