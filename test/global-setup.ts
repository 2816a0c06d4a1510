// Starts the real dev stack (Temporal dev server + MongoDB-wire server) once for all test files.
import { startDevStack, type DevStack } from '../src/stack/stack';

declare global {
  // eslint-disable-next-line no-var
  var __GOVERNANCE_TEST_STACK__: DevStack | undefined;
}

export default async function globalSetup(): Promise<void> {
  const stack = await startDevStack({ name: 'test', log: (line) => process.stderr.write(`[stack] ${line}\n`) });
  globalThis.__GOVERNANCE_TEST_STACK__ = stack;
  // Test workers inherit these.
  process.env.TEMPORAL_ADDRESS = stack.temporalAddress;
  process.env.MONGODB_URI = stack.mongoUri ?? '';
  process.env.GOVERNANCE_TEST_UI_URL = stack.uiUrl ?? '';
}
