import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { StoredRule } from '../rules/table-rules';
import type { TableDefinition } from './table-definition';

/** A declared table of a project: its definition and its rules (control.data_tables). */
@Entity({ name: 'data_tables' })
export class DataTableEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('uuid', { name: 'project_id' }) projectId!: string;
  @Column('text') name!: string;
  @Column('jsonb') definition!: TableDefinition;
  @Column('jsonb') rules!: StoredRule[];
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
