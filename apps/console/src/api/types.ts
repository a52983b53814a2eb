/**
 * Response shapes of the management API as the console reads them, written before the OpenAPI document described
 * responses; `schema.d.ts` now types those too, and these views are to give way to it.
 */
export interface User {
  id: string;
  email: string;
  name: string | null;
  email_verified: boolean;
}
export interface AuthResult {
  access_token: string;
  expires_in: number;
  user: User;
  org?: { id: string; name: string };
}
export interface Org {
  id: string;
  name: string;
  role?: string;
  personal?: boolean;
}
export interface Project {
  id: string;
  ref: string;
  org_id: string;
  name: string;
  status: string;
  endpoint: string;
  created_at: string;
}
export interface CreatedProject extends Project {
  keys: { publishable: string; secret: string };
}
export interface ApiKey {
  id: string;
  type: 'publishable' | 'secret' | 'restricted';
  name: string;
  last4: string;
  display: string;
  scopes: string[] | null;
  read_only: boolean;
  expires_at: string | null;
  revoked_at: string | null;
  created_at: string;
  last_used_at: string | null;
}
export interface CreatedKey extends ApiKey {
  key: string;
}
export interface Column {
  name: string;
  type: string;
  nullable?: boolean;
  default?: unknown;
}
export interface Rule {
  role: 'anon' | 'authenticated';
  action: Array<'read' | 'create' | 'update' | 'delete'> | 'read' | 'create' | 'update' | 'delete';
  where?: Record<string, unknown>;
  columns?: string[];
}
export interface Table {
  name: string;
  columns: Column[];
  primary_key: string[];
  rules: Rule[];
}
export interface MeterTotal {
  used: number;
  included: number | null;
  remaining: number | null;
  cap: number | null;
}
export interface ProjectUsage {
  plan: { id: string; name: string };
  period: { start: string; end: string };
  from: string;
  to: string;
  granularity: 'minute' | 'hour' | 'day';
  meters: Record<string, MeterTotal>;
  series: Array<{ t: string; meter: string; quantity: number }>;
}
export interface Plan {
  id: string;
  name: string;
  hard_caps?: boolean;
  base_fee_minor?: number;
}
export interface BillingOverview {
  mode: 'stripe' | 'ledger_only';
  currency: string;
  plan: { id: string; name: string };
  pending_plan: { id: string; effective_at: string } | null;
  period: { start: string; end: string };
  base_fee_minor: number;
  meters: Record<string, { used: number; included: number; overage: number; cost_minor: number; projected_minor: number }>;
  cost_to_date_minor: number;
  projected_minor: number;
  delinquency: { state: string };
}
export interface Invoice {
  id: string;
  number: string | null;
  status: string;
  currency: string;
  period: { start: string; end: string };
  total_minor: number;
  hosted_url: string | null;
  created_at: string;
}
export interface Member {
  user_id: string;
  email: string;
  name: string | null;
  role: string;
}
export interface Invitation {
  id: string;
  email: string;
  role: string;
  org_id?: string;
  org_name?: string;
  expires_at: string;
  accepted_at?: string | null;
}
export interface AuditEntry {
  id: string;
  action: string;
  actor: { type: string; id: string | null };
  target: { type: string | null; id: string | null };
  ip: string | null;
  created_at: string;
}
export interface AuditPage {
  entries: AuditEntry[];
  next_before: string | null;
}
