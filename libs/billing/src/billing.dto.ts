import { z } from 'zod';

/** `PUT /v1/orgs/:orgId/billing/plan`. */
export const changePlanSchema = z.object({ plan: z.string().trim().min(1).max(64) }).strict();
export type ChangePlanInput = z.infer<typeof changePlanSchema>;
