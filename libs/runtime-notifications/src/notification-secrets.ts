import { Inject, Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';

/**
 * Webhook signing secrets at rest: they must be usable (we sign with them), so they are sealed with AES-256-GCM under
 * a key derived from the master secret for this purpose only, bound to the endpoint (AAD) so a sealed secret can't
 * be moved to another endpoint.
 */
@Injectable()
export class NotificationSecrets {
  private readonly key: Buffer;

  constructor(@Inject(PLINTH_CONFIG) config: PlinthConfig) {
    this.key = Buffer.from(hkdfSync('sha256', config.secret, 'plinth', 'notifications-webhook-secrets', 32));
  }

  seal(plaintext: string, endpointId: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(endpointId));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(sealed: string, endpointId: string): string {
    const [v, iv, tag, ct] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('malformed sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(endpointId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }
}
