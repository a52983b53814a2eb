/** Loads and validates the environment once; the only reader of process.env. */
export { loadConfig, loadConfigOrExit, ConfigValidationError } from './config';
export type { PlinthConfig } from './config';
/** Nest module exposing the validated config under {@link PLINTH_CONFIG}. */
export { ConfigModule, PLINTH_CONFIG } from './config.module';
