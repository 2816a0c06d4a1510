// Identity documents (MongoDB) and the start proof a client attaches to a workflow start. Every
// document read back from MongoDB and every proof header is parsed with these schemas.
import { z } from 'zod';

// @2: the proof binds the task queue the start names, so a copy cannot route the run elsewhere.
export const START_PROOF_TYPE = 'temporal-governance/start-proof@2';
export const WORKER_REQUEST_TYPE = 'temporal-governance/worker-request@1';

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const ROLE = z.string().min(1).max(200);

// The message proof lives in a module of its own: the workflow sandbox needs it, and each workflow
// builds every schema its bundle imports.
import { ApiKeyIdSchema } from './message-proof-schema';
export {
  API_KEY_ID,
  ApiKeyIdSchema,
  MESSAGE_PROOF_TYPE,
  MessageProofPayloadSchema,
  messageProofMismatch,
  SignedMessageProofSchema,
  type BoundMessage,
  type MessageProofPayload,
  type SignedMessageProof,
} from './message-proof-schema';

export const PrincipalIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@:-]*$/, 'a principal id is letters, digits and . _ @ : - (starting with a letter or digit)');

export const PrincipalDocumentSchema = z
  .object({
    _id: PrincipalIdSchema,
    roles: z.array(ROLE),
    description: z.string().nullable(),
    createdAt: z.date(),
  })
  .strict();
export type PrincipalDocument = z.infer<typeof PrincipalDocumentSchema>;

/**
 * What MongoDB holds of an API key: the public half only. It can verify a proof, never make one,
 * so a copy of the database cannot be used to start anything.
 */
export const ApiKeyDocumentSchema = z
  .object({
    _id: ApiKeyIdSchema,
    principal: PrincipalIdSchema,
    /** Ed25519 public key, base64url. */
    publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    /** Null: the key carries all of its principal's roles; otherwise a subset of them. */
    roles: z.array(ROLE).nullable(),
    createdAt: z.date(),
    expiresAt: z.date().nullable(),
  })
  .strict();
export type ApiKeyDocument = z.infer<typeof ApiKeyDocumentSchema>;

export const RevocationKindSchema = z.enum(['principal', 'api-key', 'authorization', 'signing-key']);
export type RevocationKind = z.infer<typeof RevocationKindSchema>;

export const RevocationDocumentSchema = z
  .object({
    /** `<kind>:<id>`: one revocation per thing, so revoking twice is a no-op. */
    _id: z.string().min(1),
    kind: RevocationKindSchema,
    id: z.string().min(1),
    reason: z.string(),
    at: z.date(),
  })
  .strict();
export type RevocationDocument = z.infer<typeof RevocationDocumentSchema>;

/** What a start proof binds: this start and no other. */
export const StartProofPayloadSchema = z
  .object({
    typ: z.literal(START_PROOF_TYPE),
    keyId: ApiKeyIdSchema,
    namespace: z.string().min(1),
    workflowId: z.string().min(1),
    workflowType: z.string().min(1),
    /** Task queue of the start: a run started elsewhere (say, on a queue an attacker polls) is not this start. */
    taskQueue: z.string().min(1),
    argsDigest: z.string().regex(DIGEST),
    issuedAt: z.number().int().nonnegative(),
    /** 128 random bits, so two starts with identical inputs in the same millisecond differ. */
    nonce: z.string().regex(/^[0-9a-f]{32}$/),
  })
  .strict();
export type StartProofPayload = z.infer<typeof StartProofPayloadSchema>;

export const SignedStartProofSchema = z.object({ payload: StartProofPayloadSchema, signature: z.string().regex(BASE64URL) }).strict();
export type SignedStartProof = z.infer<typeof SignedStartProofSchema>;

/**
 * What an application worker signs, with its worker API key, when it asks a governance worker for a
 * decision directly (docs/direct-authorization.md): the run its local activity runs for and that
 * activity's id and first scheduled time, as the worker's SDK set them, and the digest of the request.
 * Governance takes the caller from here, never from the request.
 */
export const WorkerRequestPayloadSchema = z
  .object({
    typ: z.literal(WORKER_REQUEST_TYPE),
    keyId: ApiKeyIdSchema,
    namespace: z.string().min(1),
    workflowId: z.string().min(1),
    runId: z.string().min(1),
    workflowType: z.string().min(1),
    /** The authorization local activity's id and first scheduled time: its retries share both. */
    activityId: z.string().min(1),
    scheduledAt: z.number().int().nonnegative(),
    /** `sha256:` + hex SHA-256 of the JCS form of the authorization request. */
    requestDigest: z.string().regex(DIGEST),
    issuedAt: z.number().int().nonnegative(),
    nonce: z.string().regex(/^[0-9a-f]{32}$/),
  })
  .strict();
export type WorkerRequestPayload = z.infer<typeof WorkerRequestPayloadSchema>;

export const SignedWorkerRequestSchema = z.object({ payload: WorkerRequestPayloadSchema, signature: z.string().regex(BASE64URL) }).strict();
export type SignedWorkerRequest = z.infer<typeof SignedWorkerRequestSchema>;

/** The registry entry that makes a message proof single-use: the run and message that claimed it. */
export const MessageProofClaimSchema = z
  .object({
    _id: z.string().regex(DIGEST),
    workflowId: z.string().min(1),
    runId: z.string().min(1),
    messageId: z.string().min(1),
    at: z.date(),
  })
  .strict();
export type MessageProofClaim = z.infer<typeof MessageProofClaimSchema>;

/** The registry entry that makes a proof single-use: one proof, one logical start (its retries and cron runs share firstExecutionRunId). */
export const StartProofClaimSchema = z
  .object({
    _id: z.string().regex(DIGEST),
    firstExecutionRunId: z.string().min(1),
    workflowId: z.string().min(1),
    at: z.date(),
  })
  .strict();
export type StartProofClaim = z.infer<typeof StartProofClaimSchema>;

/**
 * The registry entry that makes a per-call artifact single-use: the scheduling it admitted. Every
 * attempt of that scheduling carries the same first-scheduled time; another scheduling does not.
 */
export const ArtifactClaimSchema = z
  .object({
    _id: z.string().min(1),
    /** First-scheduled time of the activity the artifact admitted (server time for activities). */
    scheduledAt: z.number().int().nonnegative(),
    workflowId: z.string().min(1),
    runId: z.string().min(1),
    activityId: z.string().min(1),
    at: z.date(),
  })
  .strict();
export type ArtifactClaim = z.infer<typeof ArtifactClaimSchema>;

/** The run grant a run holds: one per run (see claimRunGrant). */
export const RunGrantDocumentSchema = z
  .object({
    /** `<namespace>/<workflowId>/<runId>` */
    _id: z.string().min(1),
    grantId: z.string().min(1),
    /** The authorization activity that obtained it (`<activityId>@<first-scheduled ms>`); its retries may obtain it again. */
    scheduling: z.string().min(1),
    workflowId: z.string().min(1),
    at: z.date(),
  })
  .strict();
export type RunGrantDocument = z.infer<typeof RunGrantDocumentSchema>;

export const IDENTITY_COLLECTIONS = {
  principals: 'principals',
  apiKeys: 'api_keys',
  revocations: 'revocations',
  startProofs: 'start_proofs',
  artifactClaims: 'artifact_claims',
  runGrants: 'run_grants',
  grantClaims: 'grant_claims',
  messageClaims: 'message_claims',
} as const;
