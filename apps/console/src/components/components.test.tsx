import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, toApiError } from '../api/client';
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
