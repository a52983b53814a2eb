import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const REF_PATTERN = /^[a-z][a-z0-9]{11}$/;

/** 12 characters, lowercase letter first: URL-safe, a valid part of a Postgres identifier, ~61 bits. */
export function newProjectRef(): string {
  const bytes = randomBytes(12);
  let ref = ALPHABET[bytes[0] % 26];
  for (let i = 1; i < 12; i++) ref += ALPHABET[bytes[i] % 36];
  return ref;
}

/** Where new project refs come from (a provider, so a test can force a collision or a failure by overriding it). */
@Injectable()
export class ProjectRefs {
  next(): string {
    return newProjectRef();
  }
}

/**
 * Names of a project's schema and roles, all derived from the validated ref. The auth and storage roles aren't stored on the
 * project row (unlike the data role): nothing ever renames them, so the ref is the one source of truth.
 */
export function tenantNames(ref: string): { schema: string; ownerRole: string; dataRole: string; authRole: string; storageRole: string } {
  if (!REF_PATTERN.test(ref)) throw new Error(`invalid project ref ${JSON.stringify(ref)}`);
  return { schema: `t_${ref}`, ownerRole: `t_${ref}_owner`, dataRole: `t_${ref}_data`, authRole: `t_${ref}_auth`, storageRole: `t_${ref}_storage` };
}
