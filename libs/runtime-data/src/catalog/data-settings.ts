import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { z } from 'zod';

/**
 * A project's data settings (control.data_settings; no row means the defaults). `tx_end` is PostgREST's
 * `db-tx-end`: how a request's transaction ends, and whether `Prefer: tx=commit|rollback` may override it.
 * `aggregates` is `db-aggregates-enabled`: whether `select` may hold `count()`, `col.sum()` and the like.
 */
@Entity({ name: 'data_settings' })
export class DataSettingsEntity {
  @PrimaryColumn('uuid', { name: 'project_id' }) projectId!: string;
  @Column('text', { name: 'tx_end' }) txEnd!: TxEnd;
  @Column('boolean') aggregates!: boolean;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

export const TX_END = ['commit', 'commit-allow-override', 'rollback', 'rollback-allow-override'] as const;
export type TxEnd = (typeof TX_END)[number];

/** The settings as the REST runtime reads them. */
export interface DataSettings {
  txEnd: TxEnd;
  aggregates: boolean;
}

export const DEFAULT_DATA_SETTINGS: DataSettings = { txEnd: 'commit', aggregates: true };

export const patchDataSettingsSchema = z
  .object({
    tx_end: z.enum(TX_END).optional(),
    aggregates: z.boolean().optional(),
  })
  .strict();
export type PatchDataSettingsInput = z.infer<typeof patchDataSettingsSchema>;

/** The API's view of the settings. */
export function dataSettingsView(s: DataSettings): { tx_end: TxEnd; aggregates: boolean } {
  return { tx_end: s.txEnd, aggregates: s.aggregates };
}

/** Whether the request's transaction ends in ROLLBACK, and whether `Prefer: tx=` was honoured. */
export function transactionEnd(s: DataSettings, prefer: 'commit' | 'rollback' | undefined): { rollback: boolean; honoured: boolean } {
  const override = s.txEnd.endsWith('-allow-override');
  const base = s.txEnd.startsWith('rollback');
  if (override && prefer) return { rollback: prefer === 'rollback', honoured: true };
  return { rollback: base, honoured: false };
}
