// Node entry point: wiring for Clients and Workers, the governance worker, keys and policy tools.
// Workflow code imports nothing from here; see `temporal-governance/workflow`.
export { GovernancePlugin, GovernancePluginError, WORKFLOW_INTERCEPTORS_MODULE, type GovernancePluginOptions, type IdentityOptions } from './plugin';
export { createGovernanceWorker, governanceHealthUrl, type GovernanceWorkerOptions } from './worker/governance-worker';
export type { WorkerHealthOptions } from './health/worker-server';
export { closeGovernanceWorker, GovernanceStartupError, runUntilSignal, type StartupCheck } from './worker/lifecycle';
export { createAuthorizer, decisionIdFor, type AuthorizerOptions } from '../activities/authorize';
export { enforcementInterceptor, type EnforcementOptions } from '../interceptors/activity';
export { startProofInterceptor } from '../interceptors/client';
export { scheduleProofInterceptor, updateGovernedSchedule, GovernedScheduleError } from '../interceptors/client/schedule';
export { signScheduleProof, verifyScheduleProof, SCHEDULE_PROOF_TYPE, ScheduleProofPayloadSchema, SignedScheduleProofSchema, type ScheduleProofPayload, type SignedScheduleProof } from './identity/schedule-proof';
export { generateSigningKey, loadSigningKey, loadTrustBundle, KeyError } from './crypto/keys';
export { nodeEd25519 } from './crypto/node';
export { nobleEd25519 } from './crypto/noble';
export { loadPolicyFile, parsePolicyText } from './policy/load';
export { parsePolicy, PolicyError, type Policy } from './policy/schema';
export { evaluatePolicy, type EvaluationInput, type PolicyDecision } from './policy/evaluate';
export { ApiKeyError, generateApiKey, parseApiKey, signStartProof } from './identity/api-key';
export { identityCache, mongoIdentitySource, DEFAULT_MAX_STALENESS_MS, type IdentitySource } from './identity/cache';
export { verifyStartProof, type ProvenIdentity } from './identity/proof';
export { identitySnapshot, revocationProblem, stalenessProblem, type IdentitySnapshot } from './identity/snapshot';
export {
  claimStartProof,
  createApiKey,
  createPrincipal,
  expireApiKey,
  IdentityStoreError,
  listApiKeys,
  listPrincipals,
  listRevocations,
  loadIdentitySnapshot,
  revoke,
} from './identity/store';
// Revoke an authorization with this, not revoke(db, 'authorization', id): a continue-as-new hop is
// revoked through its chain id, which only the lookup knows (docs/identity.md section 7).
export { revokeAuthorization, NotAnAuthorizationError, type AuthorizationRevocation } from './identity/revoke-authorization';
export * from './identity/schema';
export * from './workflow';
