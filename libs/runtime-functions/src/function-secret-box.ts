import { Inject, Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';

/**
 * Function secrets at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the platform secret for this purpose
 * only, with the project id and secret name as associated data, so a sealed value moved to another project or name
 * doesn't open (the pattern of the auth runtime's secret box).
 */
@Injectable()
export class FunctionSecretBox {
  private readonly key: Buffer;

  constructor(@Inject(PLINTH_CONFIG) config: PlinthConfig) {
    this.key = Buffer.from(hkdfSync('sha256', config.secret, 'plinth', 'functions-runtime-secrets', 32));
  }

  seal(projectId: string, name: string, value: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`${projectId}\u0000${name}`));
    const ct = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(projectId: string, name: string, sealed: string): string {
    const [v, iv, tag, ct] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('malformed sealed value');
    const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    d.setAAD(Buffer.from(`${projectId}\u0000${name}`));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
  }
}
