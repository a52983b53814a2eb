import type { UseQueryResult } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { Button, Empty, ErrorState, Loading, PageHeader } from './ui';

/**
 * A page that lists things as cards with a "New …" button opening a create dialog (tables, buckets): the header, the
 * loading, error and empty states, and the dialog's open state. `dialog` renders the create dialog.
 */
export function CardListPage<T>({ title, newLabel, query, empty, keyOf, card, dialog }: {
  title: string;
  newLabel: string;
  query: UseQueryResult<T[]>;
  empty: { title: string; text: ReactNode };
  keyOf: (item: T) => string;
  card: (item: T) => ReactNode;
  dialog: (open: boolean, onOpenChange: (o: boolean) => void) => ReactNode;
}) {
  const [creating, setCreating] = useState(false);
  return (
    <>
      <PageHeader title={title}>
        <Button onClick={() => setCreating(true)}>{newLabel}</Button>
      </PageHeader>
      {query.isPending ? <Loading /> : query.isError ? <ErrorState error={query.error} retry={() => void query.refetch()} /> : !query.data.length ? (
        <Empty title={empty.title}>{empty.text}</Empty>
      ) : (
        <ul className="cards grid">
          {query.data.map((item) => <li key={keyOf(item)} className="card">{card(item)}</li>)}
        </ul>
      )}
      {dialog(creating, setCreating)}
    </>
  );
}
