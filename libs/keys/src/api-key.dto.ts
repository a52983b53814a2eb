import { isIP } from 'node:net';
import { z } from 'zod';
import { RUNTIMES } from './api-key.entity';

/** Runtime-wide scopes, plus the actions a runtime names itself (`notifications:send`: send, and nothing else). */
const scope = z
  .string()
  .regex(new RegExp(`^(${RUNTIMES.join('|')}|\\*):(read|write|\\*)$|^notifications:send$`), 'must look like "rest:read", "storage:write", "rest:*" or "notifications:send"');
const origin = z
  .string()
  .max(255)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === v;
    } catch {
      return false;
    }
  }, 'must be an origin like https://app.example.com (scheme, host and optional port, no path)');
const cidr = z.string().refine((v) => {
  const [ip, bits, extra] = v.split('/');
  const family = isIP(ip);
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^[0-9]{1,3}$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
}, 'must be an IP address or CIDR range');
const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a table or bucket name');

export const createKeySchema = z
  .object({
    type: z.enum(['publishable', 'secret', 'restricted']),
    name: z.string().trim().min(1).max(100),
    scopes: z.array(scope).min(1).max(20).optional(),
    tables: z.array(identifier).max(100).optional(),
    buckets: z.array(identifier).max(100).optional(),
    read_only: z.boolean().optional(),
    expires_at: z.iso.datetime({ offset: true }).optional(),
    allowed_origins: z.array(origin).max(20).optional(),
    allowed_ips: z.array(cidr).max(20).optional(),
    allow_browser: z.boolean().optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.type === 'restricted' && !v.scopes) ctx.addIssue({ code: 'custom', path: ['scopes'], message: 'restricted keys need scopes' });
    if (v.type !== 'restricted') {
      for (const f of ['scopes', 'tables', 'buckets', 'read_only'] as const) {
        if (v[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'only restricted keys take this' });
      }
    }
    if (v.allow_browser !== undefined && v.type !== 'secret') {
      ctx.addIssue({ code: 'custom', path: ['allow_browser'], message: 'only secret keys take this' });
    }
    if (v.expires_at && new Date(v.expires_at).getTime() <= Date.now()) {
      ctx.addIssue({ code: 'custom', path: ['expires_at'], message: 'must be in the future' });
    }
  });
export type CreateKeyInput = z.infer<typeof createKeySchema>;

export const rotateKeySchema = z
  .object({ expire_old_at: z.iso.datetime({ offset: true }).optional() })
  .strict()
  .refine((v) => !v.expire_old_at || new Date(v.expire_old_at).getTime() > Date.now() - 1000, {
    path: ['expire_old_at'],
    message: 'must not be in the past',
  });
export type RotateKeyInput = z.infer<typeof rotateKeySchema>;
