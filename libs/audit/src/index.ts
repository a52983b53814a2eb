/** The audit log of mutating actions: recorded in the caller's transaction, listed per org. */
export { AuditModule } from './audit.module';
export { AuditService } from './audit.service';
export type { AuditActor, AuditEvent, AuditEntryView } from './audit.service';
