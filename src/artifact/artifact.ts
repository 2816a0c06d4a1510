// Signing and verifying authorization artifacts and denial records. Pure: the Ed25519 primitive is
// passed in, so node:crypto serves the hot path and @noble/ed25519 serves the workflow sandbox.
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { fromBase64Url, toBase64Url } from '../common/base64url';
import { canonicalize } from '../common/canonical';
import { sha256Hex } from '../common/digest';
import { DenyCodes } from '../common/constants';
import { matchesGlob as globMatch } from '../common/glob';
import {
  ARTIFACT_TYPE,
  SignedArtifactSchema,
  type ArtifactPayload,
  type DenialPayload,
  type SignedArtifact,
  type SignedDenial,
} from '../common/schemas';
import type { TrustBundle, TrustedKey } from './trust-bundle';

export interface Ed25519 {
  sign(message: Uint8Array, seed: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, key: TrustedKey): boolean;
}

export interface SigningKey {
  readonly kid: string;
  /** 32-byte Ed25519 seed. */
  readonly seed: Uint8Array;
}

/** The exact bytes an Ed25519 signature covers: UTF-8 of the RFC 8785 canonical payload. */
export function signingInput(payload: ArtifactPayload | DenialPayload): Uint8Array {
  return utf8ToBytes(canonicalize(payload));
}

/** `sha256:<hex>` of the signing input; parents and the lineage hash chain link by it. */
export function payloadHash(payload: ArtifactPayload | DenialPayload): string {
  return `sha256:${sha256Hex(canonicalize(payload))}`;
}

export function signArtifact(payload: ArtifactPayload, key: SigningKey, ed: Ed25519): SignedArtifact {
  return { payload, signature: toBase64Url(ed.sign(signingInput(payload), key.seed)) };
}

export function signDenial(payload: DenialPayload, key: SigningKey, ed: Ed25519): SignedDenial {
  return { payload, signature: toBase64Url(ed.sign(signingInput(payload), key.seed)) };
}

export type Verified<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: string; readonly reason: string };

const fail = (code: string, reason: string) => ({ ok: false as const, code, reason });

/**
 * Parses an untrusted value as a signed artifact and checks its type, key and signature at time
 * `now`. Binding to a call is checked separately (verifyArtifactForCall) because grants and
 * per-call artifacts bind differently.
 */
export function verifySignedArtifact(raw: unknown, trust: TrustBundle, now: number, ed: Ed25519): Verified<SignedArtifact> {
  if (raw === undefined || raw === null) return fail(DenyCodes.artifactMissing, 'no authorization artifact');
  if (typeof raw === 'object' && (raw as { payload?: { typ?: unknown } }).payload?.typ !== ARTIFACT_TYPE) {
    const typ = (raw as { payload?: { typ?: unknown } }).payload?.typ;
    if (typeof typ === 'string') return fail(DenyCodes.artifactWrongType, `expected ${ARTIFACT_TYPE}, got ${JSON.stringify(typ).slice(0, 80)}`);
  }
  const parsed = SignedArtifactSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(DenyCodes.artifactMalformed, `malformed artifact: ${issue ? `${issue.path.join('.') || '<root>'}: ${issue.message}` : 'invalid'}`);
  }
  const artifact = parsed.data;
  const key = trust.keys.get(artifact.payload.kid);
  if (!key) return fail(DenyCodes.artifactUntrustedKey, `key ${JSON.stringify(artifact.payload.kid)} is not in the trust bundle`);
  // A key signs within its window; retiring it (notAfter) ends the window, it does not void what
  // was signed before: open runs keep their grants across a rotation. Revocation voids everything.
  if (artifact.payload.issuedAt < key.notBefore || (key.notAfter !== null && artifact.payload.issuedAt >= key.notAfter)) {
    return fail(DenyCodes.artifactKeyNotValid, `key ${key.kid} was not valid when the artifact was issued (retired or not yet valid)`);
  }
  if (artifact.payload.issuedAt > now + CLOCK_SKEW_MS) {
    return fail(DenyCodes.artifactKeyNotValid, `the artifact claims to be issued in the future (${new Date(artifact.payload.issuedAt).toISOString()})`);
  }
  let signature: Uint8Array;
  try {
    signature = fromBase64Url(artifact.signature);
  } catch (err) {
    return fail(DenyCodes.artifactMalformed, `malformed signature: ${(err as Error).message}`);
  }
  if (signature.length !== 64 || !ed.verify(signature, signingInput(artifact.payload), key)) {
    return fail(DenyCodes.artifactBadSignature, `signature does not verify with key ${key.kid}`);
  }
  return { ok: true, value: artifact };
}

/** The call the activity worker is about to run, as the server described it. */
export interface ActivityCall {
  readonly namespace: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly activityId: string;
  readonly activityType: string;
  /** Task queue the activity was scheduled on (the workflow's own queue for a local activity). */
  readonly taskQueue: string;
  readonly isLocal: boolean;
  readonly argsDigest: string;
  readonly attempt: number;
  /** When the first attempt of this call was scheduled (server time for remote activities). */
  readonly scheduledTimestampMs: number;
}

/** Clock skew tolerated between the governance worker and activity workers. */
export const CLOCK_SKEW_MS = 5_000;

/**
 * Expiry rule: the first attempt must start before the artifact expires; a retry of the same bound
 * call is valid when that call was first scheduled before expiry (retries carry the same headers and
 * the binding pins them to the same workflow run and activity id, so they cannot be replayed
 * elsewhere).
 */
export function verifyArtifactForCall(
  raw: unknown,
  call: ActivityCall,
  trust: TrustBundle,
  now: number,
  ed: Ed25519,
): Verified<{ artifact: SignedArtifact; exempt: boolean }> {
  const verified = verifySignedArtifact(raw, trust, now, ed);
  if (!verified.ok) return verified;
  const p = verified.value.payload;

  if (p.namespace !== call.namespace) return mismatch('namespace', p.namespace, call.namespace);
  if (p.workflowId !== call.workflowId) return mismatch('workflowId', p.workflowId, call.workflowId);
  if (p.runId !== call.runId) return mismatch('runId', p.runId, call.runId);

  if (p.action === 'workflow') {
    // A run grant admits exempt activity types of its own run, nothing else.
    if (p.exempt.some((glob) => globMatch(glob, call.activityType))) {
      return { ok: true, value: { artifact: verified.value, exempt: true } };
    }
    return fail(DenyCodes.artifactBindingMismatch, `activity type ${call.activityType} is not exempt and has no per-call artifact`);
  }
  const expectedAction = call.isLocal ? 'local-activity' : 'activity';
  if (p.action !== expectedAction) return mismatch('action', p.action, expectedAction);
  if (p.activityId !== call.activityId) return mismatch('activityId', p.activityId, call.activityId);
  if (p.target !== call.activityType) return mismatch('activityType', p.target, call.activityType);
  if (p.taskQueue !== call.taskQueue) return mismatch('taskQueue', p.taskQueue, call.taskQueue);
  if (p.argsDigest !== call.argsDigest) return mismatch('argsDigest', p.argsDigest, call.argsDigest);

  if (p.expiresAt === null) return fail(DenyCodes.artifactMalformed, 'per-call artifact without expiry');
  const deadline = p.expiresAt + CLOCK_SKEW_MS;
  const reference = call.attempt <= 1 ? now : call.scheduledTimestampMs;
  if (reference > deadline) {
    return fail(
      DenyCodes.artifactExpired,
      call.attempt <= 1
        ? `artifact expired at ${new Date(p.expiresAt).toISOString()}, before the first attempt started`
        : `call was first scheduled after the artifact expired at ${new Date(p.expiresAt).toISOString()}`,
    );
  }
  return { ok: true, value: { artifact: verified.value, exempt: false } };
}

function mismatch(field: string, bound: unknown, actual: unknown) {
  return fail(
    DenyCodes.artifactBindingMismatch,
    `artifact is bound to ${field} ${JSON.stringify(bound)} but this call has ${JSON.stringify(actual)}`,
  );
}
