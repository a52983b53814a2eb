/** The control database's connection URL as resolved at boot (external, or the embedded server's). */
export const DATABASE_URL = Symbol('DATABASE_URL');
