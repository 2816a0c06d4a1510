// Names shared by every side of the wiring. Sandbox-safe.

/** Activity type of the authorization activity; it is the one activity that never needs an artifact. */
export const AUTHORIZE_ACTIVITY = 'temporal-governance.authorize';
/** The local activity that asks a governance worker's endpoint for the decision (docs/direct-authorization.md). */
export const DIRECT_AUTHORIZE_ACTIVITY = 'temporal-governance.authorize-direct';
/** The role a principal needs for its API key to sign an application worker's direct authorization requests. */
export const WORKER_ROLE = 'temporal-governance:worker';
export const DEFAULT_GOVERNANCE_TASK_QUEUE = 'temporal-governance';

/** The client's start proof (signed with its API key, bound to this start). */
export const HEADER_START_PROOF = 'temporal-governance-start-proof';
export const HEADER_ARTIFACT = 'temporal-governance-artifact';
/** The sender's proof on a signal or update (signed with its API key, bound to that message). */
export const HEADER_MESSAGE_PROOF = 'temporal-governance-message-proof';
/** On a signal one workflow sends another: the sending run's grant (its authority, checked against the server-set sender). */
export const HEADER_SENDER_GRANT = 'temporal-governance-sender-grant';
/** Carries the child-workflow or continue-as-new artifact into the run it authorized. */
export const HEADER_PARENT_GRANT = 'temporal-governance-parent-grant';
/**
 * The schedule proof a client with the plugin attaches to a Schedule's action (signed with its API
 * key, bound to the schedule id and its action); the server copies it into every run it starts.
 */
export const HEADER_SCHEDULE_PROOF = 'temporal-governance-schedule-proof';

/**
 * Memo key a workflow sets on a child workflow to narrow its roles: `{ roles: [...] }`. A child may
 * only narrow; asking for a role its parent does not hold is denied.
 */
export const DELEGATE_MEMO = 'temporal-governance.delegate';

export const GOVERNANCE_DENIED = 'GovernanceDenied';
/** Retryable failure type of an authorization attempt made while identity state is stale. */
export const IDENTITY_STALE_FAILURE = 'GovernanceIdentityStale';

export const SEARCH_ATTRIBUTES = {
  decision: 'GovernanceDecision',
  denyCode: 'GovernanceDenyCode',
  policyVersion: 'GovernancePolicyVersion',
  principal: 'GovernancePrincipal',
} as const;

/**
 * Most levels of child-workflow nesting a tree may have (a root's own chain is level 0; a child of
 * it level 1). An artifact's `ancestors` hold two ids per level plus one (docs/artifact.md section
 * 5), so at most 2 * MAX_NESTING_DEPTH + 1 = 65; a child-workflow start that would put its child
 * deeper is denied (NESTING_TOO_DEEP). Continue-as-new never adds a level.
 */
export const MAX_NESTING_DEPTH = 32;

/** Deny codes produced by governance itself; policy rules may name their own. */
export const DenyCodes = {
  /** A deny rule matched (rules may set a more specific code). */
  policyDeny: 'POLICY_DENY',
  /** Default deny: no allow rule matched. */
  noMatchingAllow: 'NO_MATCHING_ALLOW',
  /** The workflow was started without an API key proof. */
  unauthenticated: 'UNAUTHENTICATED',
  /** The start proof is malformed, does not verify, or is bound to another start. */
  invalidProof: 'INVALID_PROOF',
  /** The start proof was already used by another start. */
  proofReplayed: 'PROOF_REPLAYED',
  unknownApiKey: 'UNKNOWN_API_KEY',
  apiKeyRevoked: 'API_KEY_REVOKED',
  apiKeyExpired: 'API_KEY_EXPIRED',
  unknownPrincipal: 'UNKNOWN_PRINCIPAL',
  principalRevoked: 'PRINCIPAL_REVOKED',
  /** The authorization, or one of its ancestors, is revoked. */
  authorizationRevoked: 'AUTHORIZATION_REVOKED',
  signingKeyRevoked: 'SIGNING_KEY_REVOKED',
  /** The identity and revocation state is older than the maximum staleness: everything is denied. */
  identityStateStale: 'IDENTITY_STATE_STALE',
  /** A child workflow start would put its child more than MAX_NESTING_DEPTH levels of nesting below the root. */
  nestingTooDeep: 'NESTING_TOO_DEEP',
  /** A child workflow asked for a role its parent's grant does not hold. */
  delegationWidens: 'DELEGATION_WIDENS',
  invalidGrant: 'INVALID_GRANT',
  /** The authorization request claims a workflow identity or start that the Temporal server's record contradicts. */
  claimMismatch: 'CLAIM_MISMATCH',
  /** A child-workflow or continue-as-new grant already admitted another run chain. */
  grantReplayed: 'GRANT_REPLAYED',
  /** A per-call artifact already admitted another scheduling of the activity. */
  artifactReplayed: 'ARTIFACT_REPLAYED',
  /** Nexus operations have no enforcement point here yet: governed workflows may not start them. */
  nexusNotGoverned: 'NEXUS_NOT_GOVERNED',
  malformedRequest: 'MALFORMED_REQUEST',
  /** The authorization activity did not answer in time or failed: denied, never allowed. */
  governanceUnavailable: 'GOVERNANCE_UNAVAILABLE',
  /** The authorization activity answered with something that is not a decision. */
  invalidResponse: 'INVALID_AUTHORIZATION_RESPONSE',
  artifactMissing: 'ARTIFACT_MISSING',
  artifactMalformed: 'ARTIFACT_MALFORMED',
  artifactWrongType: 'ARTIFACT_WRONG_TYPE',
  artifactUntrustedKey: 'ARTIFACT_UNTRUSTED_KEY',
  artifactKeyNotValid: 'ARTIFACT_KEY_NOT_VALID',
  artifactBadSignature: 'ARTIFACT_BAD_SIGNATURE',
  artifactBindingMismatch: 'ARTIFACT_BINDING_MISMATCH',
  artifactExpired: 'ARTIFACT_EXPIRED',
  /** A run carrying a schedule proof that the schedule's own record (DescribeSchedule) does not list as started by it. */
  scheduleRunUnconfirmed: 'SCHEDULE_RUN_UNCONFIRMED',
  /** Another run was already admitted for this schedule's scheduled time. */
  scheduledTimeReplayed: 'SCHEDULED_TIME_REPLAYED',
} as const;
