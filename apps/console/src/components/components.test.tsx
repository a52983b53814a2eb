import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import type { UseQueryResult } from '@tanstack/react-query';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, toApiError } from '../api/client';
import { CardListPage } from './card-list';
import { TypedConfirm } from './modal';
import { Field, fieldError, FormError } from './ui';

afterEach(cleanup);

describe('TypedConfirm', () => {
  it('enables the destructive button only once the exact word is typed', () => {
    const onConfirm = vi.fn();
    render(<TypedConfirm open onOpenChange={() => undefined} title="Delete shop?" word="abc123" action="Delete project" onConfirm={onConfirm} />);
    const button = screen.getByRole('button', { name: 'Delete project' }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText('Type abc123'), { target: { value: 'abc12' } });
    expect(button.disabled).toBe(true);
    fireEvent.submit(button.closest('form')!);
    expect(onConfirm).not.toHaveBeenCalled();
    fireEvent.change(screen.getByLabelText('Type abc123'), { target: { value: 'abc123' } });
    expect(button.disabled).toBe(false);
    fireEvent.click(button);
    expect(onConfirm).toHaveBeenCalledTimes(1);
  });
});

describe("the API's errors beside fields", () => {
  const error = toApiError(400, {
    error: { code: 'validation_failed', message: 'Request is invalid: name: too long', details: [{ path: 'name', message: 'too long' }, { path: 'name', message: 'second' }] },
  });

  it('takes details naming one part ({part}) as that field\'s message, and survives details of any other shape', () => {
    const e = toApiError(400, { error: { code: 'bad_request', message: 'Template email.subject failed to render: x', details: { part: 'email.subject' } } });
    expect(e.fields).toEqual({ 'email.subject': 'Template email.subject failed to render: x' });
    expect(toApiError(400, { error: { code: 'bad_request', message: 'm', details: 'odd' } }).fields).toEqual({});
  });

  it('maps details[].path to one message per field (the first)', () => {
    expect(error).toBeInstanceOf(ApiError);
    expect(error.fields).toEqual({ name: 'too long' });
    expect(fieldError(error, 'name')).toBe('too long');
    expect(fieldError(error, 'email')).toBeUndefined();
    expect(fieldError(new Error('x'), 'name')).toBeUndefined();
  });

  it('shows the message under its input, marked invalid and described by it', () => {
    render(<Field label="Name" value="" onChange={() => undefined} error={fieldError(error, 'name')} />);
    const input = screen.getByLabelText('Name');
    expect(input.getAttribute('aria-invalid')).toBe('true');
    const described = document.getElementById(input.getAttribute('aria-describedby')!);
    expect(described?.textContent).toBe('too long');
  });

  it("shows the form's message as an alert, PostgREST's shape included", () => {
    render(<FormError error={toApiError(401, { code: '42501', message: 'permission denied for table notes' })} />);
    expect(screen.getByRole('alert').textContent).toBe('permission denied for table notes');
  });

  it('says the server failed on a 500 without a body', () => {
    expect(toApiError(500, undefined).message).toBe('The server failed; try again');
  });
});

describe('CardListPage (the list-with-create-dialog block of tables and buckets)', () => {
  const query = (over: Partial<UseQueryResult<string[]>>) => ({ isPending: false, isError: false, data: [], refetch: vi.fn(), ...over }) as unknown as UseQueryResult<string[]>;
  const page = (q: UseQueryResult<string[]>) => (
    <CardListPage
      title="Things"
      newLabel="New thing"
      query={q}
      empty={{ title: 'No things yet', text: 'Make one.' }}
      keyOf={(s) => s}
      card={(s) => <h2>{s}</h2>}
      dialog={(open, onOpenChange) => (open ? <div role="dialog">creating <button onClick={() => onOpenChange(false)}>close</button></div> : null)}
    />
  );

  it('shows loading, error (with retry) and empty states', () => {
    const { rerender } = render(page(query({ isPending: true })));
    expect(screen.getByRole('status').textContent).toContain('Loading');
    const failed = query({ isError: true, error: new Error('boom') });
    rerender(page(failed));
    fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(failed.refetch).toHaveBeenCalled();
    rerender(page(query({ data: [] })));
    expect(screen.getByText('No things yet')).toBeTruthy();
  });

  it('lists cards and opens and closes the create dialog from the header button', () => {
    render(page(query({ data: ['a', 'b'] })));
    expect(screen.getAllByRole('heading', { level: 2 }).map((h) => h.textContent)).toEqual(['a', 'b']);
    expect(screen.queryByRole('dialog')).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'New thing' }));
    expect(screen.getByRole('dialog')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'close' }));
    expect(screen.queryByRole('dialog')).toBeNull();
  });
});
