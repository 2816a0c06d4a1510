export default async function globalTeardown(): Promise<void> {
  await globalThis.__GOVERNANCE_TEST_STACK__?.stop();
}
