import { Inject, Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';

/**
 * The auth runtime's secrets at rest: AES-256-GCM with a key derived (HKDF-SHA256) from the master secret, bound
 * to a context string (AAD) so a ciphertext can't be moved to another project or purpose; and a keyed hash for
 * one-time codes, so a leaked table can't be brute-forced offline (a 6-digit code has only 10^6 values).
 */
@Injectable()
export class SecretBox {
  private readonly encKey: Buffer;
  private readonly macKey: Buffer;

  constructor(@Inject(PLINTH_CONFIG) config: PlinthConfig) {
    this.encKey = Buffer.from(hkdfSync('sha256', config.secret, 'plinth', 'auth-runtime-encryption', 32));
    this.macKey = Buffer.from(hkdfSync('sha256', config.secret, 'plinth', 'auth-runtime-code-mac', 32));
  }

  /** `v1.<iv>.<tag>.<ciphertext>` (base64url). */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encKey, iv);
    cipher.setAAD(Buffer.from(context));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(sealed: string, context: string): string {
    const [v, iv, tag, ct] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('malformed sealed value');
    const decipher = createDecipheriv('aes-256-gcm', this.encKey, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** Keyed hash (HMAC-SHA256, hex) of a one-time code or token, in a context (project, email). */
  mac(value: string, context: string): string {
    return createHmac('sha256', this.macKey).update(context).update('\u0000').update(value).digest('hex');
  }

  static equal(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }
}
