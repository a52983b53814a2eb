// Jest runs TypeScript through swc (decorator metadata on) in CommonJS. Nest 12 and a few other
// dependencies ship ESM only, so those are transformed too; Node itself loads them via require(esm).
const libs = ['config', 'common', 'database', 'identity', 'audit', 'keys', 'tenancy', 'gateway', 'jobs', 'metering', 'quotas', 'billing', 'runtime-data', 'runtime-auth', 'mail', 'runtime-storage', 'runtime-functions', 'runtime-notifications'];
const moduleNameMapper = Object.fromEntries(libs.map((l) => [`^@plinth/${l}$`, `<rootDir>/libs/${l}/src`]));
// The same aliases for swc, so code jest loads outside its module system (global setup) resolves them too.
const paths = Object.fromEntries(libs.map((l) => [`@plinth/${l}`, [`libs/${l}/src`]]));

const swc = [
  '@swc/jest',
  {
    swcrc: false,
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2022',
      keepClassNames: true,
      baseUrl: __dirname,
      paths,
    },
    module: { type: 'commonjs' },
  },
];


const shared = {
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|load-esm|file-type|uid|jose|@supabase|openid-client|oauth4webapi)/)'],
  moduleNameMapper,
};

module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts', '<rootDir>/test/stripe/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
  testTimeout: 30000,
};
