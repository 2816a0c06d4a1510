// The application worker's credential for direct authorization: an API key of a principal holding
// WORKER_ROLE signs each request with the caller its SDK set (the local activity's info). Governance
// verifies it and takes the caller from it; a process without such a key (a rogue worker, a script)
// gets nothing from the endpoint and must use the authorization activity, whose caller the server sets.
import type { Ed25519 } from '../artifact/artifact';
import { CLOCK_SKEW_MS } from '../artifact/artifact';
import { DenyCodes, WORKER_ROLE } from '../common/constants';
import { proofNonce, signWithApiKey, type ParsedApiKey } from '../identity/api-key';
import { problem, provenIdentity, verifyApiKeySignature, type ProofProblem } from '../identity/proof';
import { WORKER_REQUEST_TYPE, type SignedWorkerRequest, type WorkerRequestPayload } from '../identity/schema';
import type { IdentitySnapshot } from '../identity/snapshot';
import { requestDigest } from './wire';

/** The calling run and its authorization local activity, as the application worker's SDK set them. */
export interface DirectCaller {
  readonly namespace: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly workflowType: string;
  readonly activityId: string;
  /** First scheduled time of the local activity (its retries share it): the decision's issue time. */
  readonly scheduledAt: number;
}

export function signWorkerRequest(key: ParsedApiKey, caller: DirectCaller, request: unknown, now: number = Date.now()): SignedWorkerRequest {
  const payload: WorkerRequestPayload = { typ: WORKER_REQUEST_TYPE, keyId: key.keyId, ...caller, requestDigest: requestDigest(request), issuedAt: now, nonce: proofNonce() };
  return signWithApiKey(payload, key);
}

export interface WorkerRequestCheck {
  /**
   * How far before now the local activity may have been first scheduled: its retries keep that
   * time (the decision's issue time), so this bounds how old an issue time a worker may ask for.
   */
  readonly maxScheduledAgeMs: number;
  /** How far a request's own `issuedAt` may be from now (default CLOCK_SKEW_MS; requests are sent at once). */
  readonly skewMs?: number;
}

export interface ProvenCaller {
  readonly caller: DirectCaller;
  /** The worker principal whose key signed (for logs; never the decision's principal). */
  readonly workerPrincipal: string;
  readonly keyId: string;
}

/**
 * The caller of a direct request, if a live worker key signed it over this very request, recently.
 * Checks, in order: the key (known, not revoked, not expired, signature), its principal (known, not
 * revoked, holds WORKER_ROLE through this key), the request digest, the request's age, and the
 * scheduled time's bounds.
 */
export function verifyWorkerRequest(proof: SignedWorkerRequest, request: unknown, snapshot: IdentitySnapshot, at: number, ed: Ed25519, check: WorkerRequestCheck): ProofProblem | ProvenCaller {
  const { payload } = proof;
  const key = verifyApiKeySignature(payload, proof.signature, snapshot, at, ed, 'worker request');
  if ('code' in key) return key;
  const identity = provenIdentity(key, snapshot, payload);
  if ('code' in identity) return identity;
  if (!identity.roles.includes(WORKER_ROLE)) {
    return problem(DenyCodes.invalidProof, `API key ${key.id} of principal ${key.principal} does not carry role ${WORKER_ROLE}: it cannot sign an application worker's requests`, key.principal);
  }
  let digest: string;
  try {
    digest = requestDigest(request);
  } catch {
    return problem(DenyCodes.malformedRequest, 'the request has no canonical form', key.principal);
  }
  if (digest !== payload.requestDigest) return problem(DenyCodes.invalidProof, 'the worker request signature covers another request', key.principal);
  const skew = check.skewMs ?? CLOCK_SKEW_MS;
  if (Math.abs(at - payload.issuedAt) > skew) {
    return problem(DenyCodes.invalidProof, `the worker request was signed at ${new Date(payload.issuedAt).toISOString()}, more than ${skew} ms from governance's clock`, key.principal);
  }
  if (payload.scheduledAt > at + skew || payload.scheduledAt < at - check.maxScheduledAgeMs - skew) {
    return problem(DenyCodes.invalidProof, `the local activity's scheduled time ${new Date(payload.scheduledAt).toISOString()} is outside the last ${check.maxScheduledAgeMs} ms`, key.principal);
  }
  const { namespace, workflowId, runId, workflowType, activityId, scheduledAt } = payload;
  return { caller: { namespace, workflowId, runId, workflowType, activityId, scheduledAt }, workerPrincipal: key.principal, keyId: key.id };
}
