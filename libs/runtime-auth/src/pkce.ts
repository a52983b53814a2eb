import { createHash } from 'node:crypto';
import { z } from 'zod';
import { GoTrueException } from './gotrue.exception';
import { SecretBox } from './secret-box';

/** A PKCE code challenge an app sent with a request that starts a flow (S256 only). */
export interface PkceChallenge {
  challenge: string;
}

/** RFC 7636 §4.1/§4.2: 43–128 unreserved characters. An S256 challenge is exactly 43 base64url characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * The PKCE parameters of a request body or query (`code_challenge`, `code_challenge_method`), as supabase-js sends
 * them with `flowType: 'pkce'`: null when absent (an implicit flow). Half a pair, a `plain` method (it proves
 * nothing once the challenge has been seen), or a malformed challenge is a 400 validation_failed.
 */
export function pkceOf(source: unknown): PkceChallenge | null {
  if (typeof source !== 'object' || source === null) return null;
  const { code_challenge: challenge, code_challenge_method: method } = source as Record<string, unknown>;
  const has = (v: unknown) => v !== undefined && v !== null && v !== '';
  if (!has(challenge) && !has(method)) return null;
  if (!has(challenge) || !has(method) || typeof challenge !== 'string' || typeof method !== 'string') {
    throw GoTrueException.validation('PKCE flow requires code_challenge_method and code_challenge');
  }
  if (method.toLowerCase() === 'plain') throw GoTrueException.validation('code_challenge_method plain is not supported: use S256');
  if (method.toLowerCase() !== 's256') throw GoTrueException.validation(`unsupported code_challenge method "${method.slice(0, 20)}"`);
  if (!S256_CHALLENGE.test(challenge)) throw GoTrueException.validation('code challenge must be 43 base64url characters (the SHA-256 of the code verifier)');
  return { challenge };
}

/** Whether `verifier` is the one whose S256 challenge is `challenge` (constant-time comparison). */
export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!VERIFIER.test(verifier)) return false;
  return SecretBox.equal(createHash('sha256').update(verifier).digest('base64url'), challenge);
}

/** `POST /token?grant_type=pkce` body. */
export const pkceGrantSchema = z.object({ auth_code: z.string().min(1).max(200), code_verifier: z.string().min(1).max(200) });
