import { z } from 'zod';

export const emailSchema = z
  .string()
  .max(254)
  .transform((v) => v.trim())
  .pipe(z.email({ message: 'must be a valid email address' }));

export const signupSchema = z
  .object({
    email: emailSchema,
    password: z.string().min(1).max(128),
    name: z.string().trim().min(1).max(100).optional(),
  })
  .strict();

export const loginSchema = z.object({ email: z.string().max(254), password: z.string().max(1024) }).strict();
export const refreshSchema = z.object({ refresh_token: z.string().min(1).max(200) }).strict();
export const createPatSchema = z
  .object({ name: z.string().trim().min(1).max(100), expires_in_days: z.number().int().min(1).max(3650).optional() })
  .strict();
export const verifyCodeSchema = z
  .object({ email: z.string().max(254), code: z.string().regex(/^[0-9]{6}$/, 'must be the 6-digit code from the email') })
  .strict();
export const resendVerificationSchema = z.object({ email: z.string().max(254) }).strict();
/** Not strict: mail clients and link trackers append their own parameters to links. */
export const verifyLinkQuerySchema = z.object({ token: z.string().min(1).max(200) });
