import * as Dialog from '@radix-ui/react-dialog';
import { useState, type ReactNode } from 'react';
import { Button, Field, FormError } from './ui';

// Dialogs live apart from ./ui so the signed-out pages (the entry chunk) don't carry Radix Dialog.

export function Modal({ open, onOpenChange, title, description, children }: { open: boolean; onOpenChange: (o: boolean) => void; title: string; description?: string; children: ReactNode }) {
  return (
    <Dialog.Root open={open} onOpenChange={onOpenChange}>
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <Dialog.Content className="modal" aria-describedby={description ? undefined : undefined}>
          <Dialog.Title>{title}</Dialog.Title>
          {description ? <Dialog.Description className="muted">{description}</Dialog.Description> : <Dialog.Description className="sr-only">{title}</Dialog.Description>}
          {children}
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

/** Deleting something: the user types its name to confirm. */
export function TypedConfirm({ open, onOpenChange, title, word, action, onConfirm, busy, error }: { open: boolean; onOpenChange: (o: boolean) => void; title: string; word: string; action: string; onConfirm: () => void; busy?: boolean; error?: unknown }) {
  const [typed, setTyped] = useState('');
  return (
    <Modal open={open} onOpenChange={(o) => { setTyped(''); onOpenChange(o); }} title={title} description={`This can't be undone. Type ${word} to confirm.`}>
      <form onSubmit={(e) => { e.preventDefault(); if (typed === word) onConfirm(); }}>
        <Field label={`Type ${word}`} value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
        <FormError error={error} />
        <div className="actions">
          <Button type="button" variant="secondary" onClick={() => onOpenChange(false)}>Cancel</Button>
          <Button type="submit" variant="danger" disabled={typed !== word} busy={busy}>{action}</Button>
        </div>
      </form>
    </Modal>
  );
}

