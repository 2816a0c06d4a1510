// Client entry point (`temporal-governance/client`): what a process that only starts workflows
// needs. It loads neither @temporalio/worker (and its native bridge) nor the MongoDB driver, so a
// web server or a script pays for a Client and an Ed25519 signer, nothing more. The plugin is the
// same class as the root entry's: handed to a Worker it loads its worker half on first use.
export { GovernancePlugin, GovernancePluginError, type GovernancePluginOptions, type IdentityOptions } from './plugin';
export { startProofInterceptor } from '../interceptors/client';
export { ApiKeyError, parseApiKey, signStartProof, type ParsedApiKey } from './identity/api-key';
export type { SignedStartProof, StartProofPayload } from './identity/schema';
export { scheduleProofInterceptor, updateGovernedSchedule, GovernedScheduleError } from '../interceptors/client/schedule';
export { signScheduleProof, SCHEDULE_PROOF_TYPE, type ScheduleProofPayload, type SignedScheduleProof } from './identity/schedule-proof';
// Deny codes, denial details and delegation, to read a governed workflow's outcome.
export * from './workflow';
