// The proof a client signs for a signal or update (docs/identity.md section 13), and the key id
// format it names. Sandbox-safe: the workflow's update validator checks it too, and each workflow
// builds every schema its bundle imports, so this module holds nothing else.
import { z } from 'zod';

export const MESSAGE_PROOF_TYPE = 'temporal-governance/message-proof@1';

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Key ids are public (they appear in proofs, artifacts and history); the secret half never leaves the client. */
export const API_KEY_ID = /^ak_[0-9a-f]{16}$/;
export const ApiKeyIdSchema = z.string().regex(API_KEY_ID, 'an API key id looks like ak_ followed by 16 hex digits');

/**
 * What a message proof binds: one signal or update to one workflow (and run, when the sender named
 * it), its handler name and arguments. Signal-with-start and update-with-start carry one too.
 */
export const MessageProofPayloadSchema = z
  .object({
    typ: z.literal(MESSAGE_PROOF_TYPE),
    keyId: ApiKeyIdSchema,
    kind: z.enum(['signal', 'update']),
    namespace: z.string().min(1),
    workflowId: z.string().min(1),
    /** The run the sender addressed; null when it addressed the workflow id (its current run). */
    runId: z.string().min(1).nullable(),
    /** Signal or update name: the handler it may run. */
    name: z.string().min(1),
    /** Updates only: the update id the client set (the server echoes it in the accepted event). */
    updateId: z.string().min(1).nullable(),
    argsDigest: z.string().regex(DIGEST),
    issuedAt: z.number().int().nonnegative(),
    nonce: z.string().regex(/^[0-9a-f]{32}$/),
  })
  .strict()
  .refine((p) => (p.kind === 'update') === (p.updateId !== null), { message: 'an update proof names its update id, a signal proof none', path: ['updateId'] });
export type MessageProofPayload = z.infer<typeof MessageProofPayloadSchema>;

export const SignedMessageProofSchema = z.object({ payload: MessageProofPayloadSchema, signature: z.string().regex(BASE64URL) }).strict();
export type SignedMessageProof = z.infer<typeof SignedMessageProofSchema>;

/** The message a proof must be bound to: kind, workflow, run, handler, update id and arguments. */
export interface BoundMessage {
  readonly kind: 'signal' | 'update';
  readonly namespace: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly name: string;
  readonly updateId: string | null;
  readonly argsDigest: string;
}

/**
 * The first member a message proof binds differently from `message`, or null. A proof that names
 * no run admits any run of the workflow. One rule for governance (against the server's record) and
 * for the workflow's update validator (against what it received). Sandbox-safe.
 */
export function messageProofMismatch(payload: MessageProofPayload, message: BoundMessage): { field: string; claimed: unknown; actual: unknown } | null {
  const bound: Array<[string, unknown, unknown]> = [
    ['kind', payload.kind, message.kind],
    ['namespace', payload.namespace, message.namespace],
    ['workflowId', payload.workflowId, message.workflowId],
    ['name', payload.name, message.name],
    ['updateId', payload.updateId, message.updateId],
    ['argsDigest', payload.argsDigest, message.argsDigest],
    ['runId', payload.runId ?? message.runId, message.runId],
  ];
  for (const [field, claimed, actual] of bound) if (claimed !== actual) return { field, claimed, actual };
  return null;
}
