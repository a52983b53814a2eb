import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export const KEY_TYPES = ['publishable', 'secret', 'restricted'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export const RUNTIMES = ['rest', 'auth', 'storage', 'functions', 'notifications'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** What a restricted key may do: `<runtime>:<read|write>` scopes, optional table/bucket lists, read-only. */
export interface KeyScopes {
  scopes: string[];
  tables?: string[];
  buckets?: string[];
  read_only?: boolean;
}

@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('uuid', { name: 'project_id' }) projectId!: string;
  @Column('text') type!: KeyType;
  @Column('text') name!: string;
  @Column('text', { name: 'key_hash' }) keyHash!: string;
  @Column('text') last4!: string;
  @Column('jsonb', { nullable: true }) scopes!: KeyScopes | null;
  @Column('text', { name: 'allowed_origins', array: true, nullable: true }) allowedOrigins!: string[] | null;
  @Column('cidr', { name: 'allowed_ips', array: true, nullable: true }) allowedIps!: string[] | null;
  @Column('boolean', { name: 'allow_browser' }) allowBrowser!: boolean;
  @Column('timestamptz', { name: 'expires_at', nullable: true }) expiresAt!: Date | null;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt!: Date | null;
  @Column('uuid', { name: 'rotated_from', nullable: true }) rotatedFrom!: string | null;
  @Column('uuid', { name: 'created_by', nullable: true }) createdBy!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column('timestamptz', { name: 'last_used_at', nullable: true }) lastUsedAt!: Date | null;
}
