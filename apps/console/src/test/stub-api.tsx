import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ComponentType } from 'react';
import { MemoryRouter, Route, Routes } from 'react-router';
import { vi } from 'vitest';

/** A request the page made to the stubbed API. */
export interface StubbedCall {
  method: string;
  url: URL;
  body: unknown;
}
export type StubResponder = (method: string, url: URL, body: unknown) => { status: number; body: unknown };

/**
 * Replaces `fetch` with the API as `respond()` answers it (read at each call, so a test can swap it), recording every
 * request in `calls` with its parsed JSON body.
 */
export function stubApi(calls: StubbedCall[], respond: () => StubResponder): void {
  vi.stubGlobal('fetch', async (input: Request) => {
    const url = new URL(input.url);
    const text = input.method === 'GET' || input.method === 'DELETE' ? '' : await input.text();
    const body = text ? JSON.parse(text) : undefined;
    calls.push({ method: input.method, url, body });
    const r = respond()(input.method, url, body);
    return new Response(r.status === 204 ? null : JSON.stringify(r.body), { status: r.status, headers: { 'content-type': 'application/json' } });
  });
}

/** Renders `Page` at `path` under `route`, with a fresh query client that doesn't retry. */
export function renderPage(Page: ComponentType, route: string, path: string): void {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <Routes><Route path={route} element={<Page />} /></Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}
