// Sandbox-safe entry point: everything here may be imported by workflow code and pulls in no Node
// modules. The workflow interceptors themselves live in interceptors/workflow.
export * from './common/constants';
export * from './common/schemas';
export { canonicalize, CanonicalEncodingError } from './common/canonical';
export { argumentsDigest, argumentsView, ArgumentDigestError } from './common/digest';
export { describeDenial, governanceDeniedFailure, denialDetailsFromPayload, findGovernanceDenial } from './common/denial';
export { signingInput, payloadHash, signArtifact, signDenial, verifySignedArtifact, verifyArtifactForCall, CLOCK_SKEW_MS } from './artifact/artifact';
export type { ActivityCall, Ed25519, SigningKey, Verified } from './artifact/artifact';
export { parseTrustBundle, TrustBundleSchema, type TrustBundle, type TrustedKey } from './artifact/trust-bundle';
export { resolveWorkflowConfig, type WorkflowGovernanceConfig } from './common/workflow-config';

import { DELEGATE_MEMO } from './common/constants';
/**
 * Memo for a child workflow that narrows the roles it runs with:
 * `executeChild(refund, { memo: delegateRoles(['refunds']) })`. Delegation only narrows: asking for
 * a role the parent's grant does not hold is denied (DELEGATION_WIDENS).
 */
export function delegateRoles(roles: string[]): Record<string, unknown> {
  return { [DELEGATE_MEMO]: { roles } };
}
