import { createHash, randomBytes } from 'node:crypto';
import { GoTrueException } from './gotrue.exception';
import { pkceOf, verifierMatches } from './pkce';

describe('PKCE parameters', () => {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');

  it('reads an S256 challenge (either case of the method); none at all is an implicit flow', () => {
    expect(pkceOf({ code_challenge: challenge, code_challenge_method: 's256' })).toEqual({ challenge });
    expect(pkceOf({ code_challenge: challenge, code_challenge_method: 'S256' })).toEqual({ challenge });
    expect(pkceOf({ email: 'a@b.c' })).toBeNull();
    expect(pkceOf({ code_challenge: null, code_challenge_method: null })).toBeNull();
    expect(pkceOf(undefined)).toBeNull();
  });

  it('refuses plain, half a pair, unknown methods and malformed challenges with 400 validation_failed', () => {
    for (const bad of [
      { code_challenge: verifier, code_challenge_method: 'plain' },
      { code_challenge: challenge },
      { code_challenge_method: 's256' },
      { code_challenge: challenge, code_challenge_method: 'S512' },
      { code_challenge: challenge.slice(1), code_challenge_method: 's256' },
      { code_challenge: `${challenge.slice(1)}=`, code_challenge_method: 's256' },
      { code_challenge: 42, code_challenge_method: 's256' },
    ]) {
      let thrown: unknown;
      try {
        pkceOf(bad);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(GoTrueException);
      expect((thrown as GoTrueException).status).toBe(400);
      expect((thrown as GoTrueException).errorCode).toBe('validation_failed');
    }
  });

  it('matches only the verifier whose SHA-256 is the challenge', () => {
    expect(verifierMatches(verifier, challenge)).toBe(true);
    expect(verifierMatches(randomBytes(32).toString('base64url'), challenge)).toBe(false);
    expect(verifierMatches(challenge, challenge)).toBe(false); // plain would pass this
    expect(verifierMatches('short', createHash('sha256').update('short').digest('base64url'))).toBe(false);
  });
});
