/** Project API keys: format (prefix + checksum), storage (hash only), rotation, and cached verification. */
export { KeysModule } from './keys.module';
export { ApiKeyService, keyView, KEY_TOPIC } from './api-key.service';
export type { ApiKeyView } from './api-key.service';
export { KeyVerifier } from './key-verifier';
export type { VerifiedKey } from './key-verifier';
export { KEY_PREFIX, keyTypeOf } from './key-format';
export { createKeySchema, rotateKeySchema } from './api-key.dto';
export type { CreateKeyInput, RotateKeyInput } from './api-key.dto';
export { KEY_TYPES, RUNTIMES } from './api-key.entity';
export type { KeyType, Runtime, KeyScopes } from './api-key.entity';
