// Names shared by every side of the wiring. Sandbox-safe.

/** Activity type of the authorization activity; it is the one activity that never needs an artifact. */
export const AUTHORIZE_ACTIVITY = 'temporal-governance.authorize';
export const DEFAULT_GOVERNANCE_TASK_QUEUE = 'temporal-governance';

export const HEADER_PRINCIPAL = 'temporal-governance-principal';
export const HEADER_ARTIFACT = 'temporal-governance-artifact';
/** Carries the child-workflow or continue-as-new artifact into the run it authorized. */
export const HEADER_PARENT_GRANT = 'temporal-governance-parent-grant';

export const GOVERNANCE_DENIED = 'GovernanceDenied';

export const SEARCH_ATTRIBUTES = {
  decision: 'GovernanceDecision',
  denyCode: 'GovernanceDenyCode',
  policyVersion: 'GovernancePolicyVersion',
  principal: 'GovernancePrincipal',
} as const;

/** Deny codes produced by governance itself; policy rules may name their own. */
export const DenyCodes = {
  /** A deny rule matched (rules may set a more specific code). */
  policyDeny: 'POLICY_DENY',
  /** Default deny: no allow rule matched. */
  noMatchingAllow: 'NO_MATCHING_ALLOW',
  unauthenticated: 'UNAUTHENTICATED',
  unknownPrincipal: 'UNKNOWN_PRINCIPAL',
  invalidGrant: 'INVALID_GRANT',
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
} as const;
