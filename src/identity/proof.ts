// Governance side of a start proof: is it well formed, signed by a live API key of a live
// principal, and bound to this very start? Pure: the Ed25519 primitive and the snapshot are passed in.
import { utf8ToBytes } from '@noble/hashes/utils.js';
import type { Ed25519 } from '../artifact/artifact';
import { fromBase64Url } from '../common/base64url';
import { canonicalize } from '../common/canonical';
import { DenyCodes } from '../common/constants';
import { sha256Hex } from '../common/digest';
import { intersectRoles, type IdentityProblem, type IdentitySnapshot } from './snapshot';
import { messageProofMismatch, SignedMessageProofSchema, SignedStartProofSchema, type BoundMessage, type MessageProofPayload, type StartProofPayload } from './schema';

/** The start as the server recorded it (from workflowInfo on the first workflow task). */
export interface RecordedStart {
  readonly namespace: string;
  readonly workflowId: string;
  readonly workflowType: string;
  readonly taskQueue: string;
  readonly argsDigest: string;
  /** When this run started (server time). */
  readonly startedAt: number;
}

export interface ProvenIdentity {
  readonly keyId: string;
  readonly principal: string;
  /** The key's roles that its principal still holds, sorted. */
  readonly roles: string[];
  /** Hash of the signed proof payload: the id under which the proof is claimed once. */
  readonly proofId: string;
}

export interface ProofCheckOptions {
  /** How much older than the start a proof may be. */
  readonly maxAgeMs: number;
  /** Tolerated clock skew between client and server. */
  readonly skewMs: number;
  /**
   * False for workflow retries and cron runs: they re-deliver the first run's proof, so its age is
   * not checked; the single-use claim (same firstExecutionRunId) admits them instead.
   */
  readonly checkAge: boolean;
}

/** A proof problem; names the principal once the key is known, so operators see whose start failed. */
export type ProofProblem = IdentityProblem & { readonly principal?: string };
export const problem = (code: string, reason: string, principal?: string): ProofProblem => (principal ? { code, reason, principal } : { code, reason });

/** A live API key whose signature over a proof payload verified (steps shared by every proof kind). */
export interface SigningApiKey {
  readonly id: string;
  readonly principal: string;
  /** The key's own role restriction (null: all of its principal's roles). */
  readonly roles: readonly string[] | null;
}

/**
 * The key checks every API-key proof goes through, in this order: the key is known, not revoked,
 * not expired (at the decision time, nor at the proof's `issuedAt`), and `signature` is a valid
 * Ed25519 signature by it over the JCS form of `payload`. `what` names the proof in reasons.
 */
export function verifyApiKeySignature(
  payload: { readonly keyId: string; readonly issuedAt: number },
  signature: string,
  snapshot: IdentitySnapshot,
  at: number,
  ed: Ed25519,
  what: string,
): ProofProblem | SigningApiKey {
  const key = snapshot.apiKey(payload.keyId);
  if (!key) return problem(DenyCodes.unknownApiKey, `API key ${payload.keyId} is not known to governance`);
  if (snapshot.revocation('api-key', key.id)) return problem(DenyCodes.apiKeyRevoked, `API key ${key.id} is revoked`, key.principal);
  if (key.expiresAt !== null && (at >= key.expiresAt || payload.issuedAt >= key.expiresAt)) {
    return problem(DenyCodes.apiKeyExpired, `API key ${key.id} expired at ${new Date(key.expiresAt).toISOString()}`, key.principal);
  }
  let sig: Uint8Array;
  try {
    sig = fromBase64Url(signature);
  } catch {
    return problem(DenyCodes.invalidProof, `malformed ${what} signature`, key.principal);
  }
  const message = utf8ToBytes(canonicalize(payload));
  if (sig.length !== 64 || !ed.verify(sig, message, key.key)) return problem(DenyCodes.invalidProof, `the ${what} does not verify with API key ${key.id}`, key.principal);
  return { id: key.id, principal: key.principal, roles: key.roles };
}

/** The identity a verified key proves: its principal must exist and not be revoked; roles only narrow. */
export function provenIdentity(key: SigningApiKey, snapshot: IdentitySnapshot, payload: unknown): ProofProblem | ProvenIdentity {
  const principalRoles = snapshot.rolesOf(key.principal);
  if (principalRoles === undefined) return problem(DenyCodes.unknownPrincipal, `principal ${key.principal} of API key ${key.id} is not known to governance`, key.principal);
  if (snapshot.revocation('principal', key.principal)) return problem(DenyCodes.principalRevoked, `principal ${key.principal} is revoked`, key.principal);
  const roles = intersectRoles(key.roles ?? principalRoles, principalRoles);
  return { keyId: key.id, principal: key.principal, roles, proofId: `sha256:${sha256Hex(canonicalize(payload))}` };
}

/**
 * Why a run without a start proof is denied, and what to use instead: runs started by the plain
 * `temporal` CLI or the Web UI's Start button get this, and the operator reads it in the Web UI.
 */
export const UNAUTHENTICATED_START_REASON =
  'the workflow was started without an API key proof (the plain `temporal` CLI and the Web UI cannot make one): start governed workflows with `temporal-governance workflow start --governance-key-file FILE` or from a client with GovernancePlugin({ apiKey })';

export function verifyStartProof(
  raw: unknown,
  start: RecordedStart,
  snapshot: IdentitySnapshot,
  at: number,
  ed: Ed25519,
  options: ProofCheckOptions,
): ProofProblem | ProvenIdentity {
  if (raw === undefined || raw === null) return problem(DenyCodes.unauthenticated, UNAUTHENTICATED_START_REASON);
  const parsed = SignedStartProofSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return problem(DenyCodes.invalidProof, `malformed start proof: ${issue ? `${issue.path.join('.') || '<root>'}: ${issue.message}` : 'invalid'}`);
  }
  const { payload, signature } = parsed.data;
  const key = verifyApiKeySignature(payload, signature, snapshot, at, ed, 'start proof');
  if ('code' in key) return key;

  for (const field of ['namespace', 'workflowId', 'workflowType', 'taskQueue', 'argsDigest'] as const) {
    if (payload[field] !== start[field]) {
      return problem(DenyCodes.invalidProof, `the start proof is bound to ${field} ${JSON.stringify(payload[field])}, not ${JSON.stringify(start[field])}: a proof starts one workflow only`, key.principal);
    }
  }
  if (options.checkAge) {
    if (payload.issuedAt > start.startedAt + options.skewMs) return problem(DenyCodes.invalidProof, 'the start proof was issued after the workflow started', key.principal);
    if (start.startedAt - payload.issuedAt > options.maxAgeMs) {
      return problem(
        DenyCodes.invalidProof,
        `the start proof is ${Math.round((start.startedAt - payload.issuedAt) / 1000)} s older than the start (maximum ${Math.round(options.maxAgeMs / 1000)} s)`,
        key.principal,
      );
    }
  }
  return provenIdentity(key, snapshot, payload);
}

/** A signal or update as the server recorded it (the WorkflowExecutionSignaled / UpdateAccepted event). */
export interface RecordedMessage extends BoundMessage {
  /** Event time of the delivery (server time, ms). */
  readonly deliveredAt: number;
}

/**
 * Governance side of a message proof: signed by a live key of a live principal and bound to the
 * message the server recorded (workflow, run when named, handler, update id, arguments), issued
 * no later than its delivery and at most maxAgeMs before it.
 */
export function verifyMessageProof(
  raw: unknown,
  message: RecordedMessage,
  snapshot: IdentitySnapshot,
  at: number,
  ed: Ed25519,
  options: { readonly maxAgeMs: number; readonly skewMs: number },
): ProofProblem | ProvenIdentity {
  const what = `${message.kind} proof`;
  if (raw === undefined || raw === null) return problem(DenyCodes.unauthenticated, `the ${message.kind} ${JSON.stringify(message.name)} was sent without an API key proof (send it through a client with GovernancePlugin, or \`temporal-governance workflow ${message.kind}\`)`);
  const parsed = SignedMessageProofSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return problem(DenyCodes.invalidProof, `malformed ${what}: ${issue ? `${issue.path.join('.') || '<root>'}: ${issue.message}` : 'invalid'}`);
  }
  const { payload, signature } = parsed.data;
  const signed = verifyApiKeySignature(payload, signature, snapshot, at, ed, what);
  if ('code' in signed) return signed;
  const mismatch = messageProofMismatch(payload, message);
  if (mismatch) {
    return problem(DenyCodes.invalidProof, `the ${what} is bound to ${mismatch.field} ${JSON.stringify(mismatch.claimed)}, not ${JSON.stringify(mismatch.actual)}: a proof admits one message only`, signed.principal);
  }
  if (payload.issuedAt > message.deliveredAt + options.skewMs) return problem(DenyCodes.invalidProof, `the ${what} was issued after the server recorded the ${message.kind}`, signed.principal);
  if (message.deliveredAt - payload.issuedAt > options.maxAgeMs) {
    return problem(DenyCodes.invalidProof, `the ${what} is ${Math.round((message.deliveredAt - payload.issuedAt) / 1000)} s older than its delivery (maximum ${Math.round(options.maxAgeMs / 1000)} s)`, signed.principal);
  }
  return provenIdentity(signed, snapshot, payload);
}
