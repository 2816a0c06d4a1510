/** Integration tests run against the real dev stack started once in globalSetup. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // @noble/* ship ES modules only; transpile them like our own TypeScript.
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: { allowJs: true, isolatedModules: true }, diagnostics: false }],
  },
  transformIgnorePatterns: ['/node_modules/(?!@noble/)'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 120_000,
  maxWorkers: 2,
  // The Temporal native runtime holds a thread-safe function open after every worker and connection
  // is closed (see --detectOpenHandles); nothing of ours is left running.
  forceExit: true,
  reporters: ['default', '<rootDir>/test/helpers/count-reporter.js'],
};
