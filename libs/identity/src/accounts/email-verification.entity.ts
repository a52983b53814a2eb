import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** One issued verification email: hashes of its code and link token, never the secrets themselves. */
@Entity({ name: 'email_verifications' })
export class EmailVerificationEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'user_id' }) userId!: string;
  @Column('text') email!: string;
  @Column('text', { name: 'code_hash' }) codeHash!: string;
  @Column('text', { name: 'token_hash' }) tokenHash!: string;
  @Column('integer') attempts!: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column('timestamptz', { name: 'expires_at' }) expiresAt!: Date;
  @Column('timestamptz', { name: 'consumed_at', nullable: true }) consumedAt!: Date | null;
}
