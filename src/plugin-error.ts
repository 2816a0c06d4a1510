// Its own module so that both halves of GovernancePlugin (src/plugin.ts for every process, and
// src/plugin-worker.ts, loaded on workers only) throw the same class without importing each other.
export class GovernancePluginError extends Error {
  override readonly name = 'GovernancePluginError';
}
