// API keys and start proofs on the client side. An API key is an Ed25519 seed: the client signs a
// proof bound to one workflow start, and governance verifies it with the public half it stores.
// The key string is never logged, echoed in an error, or sent anywhere. Node-only.
import { createPublicKey, randomBytes } from 'node:crypto';
import { fromBase64Url, toBase64Url } from '../common/base64url';
import { canonicalize } from '../common/canonical';
import { privateKeyFromSeed, nodeEd25519 } from '../crypto/node';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { API_KEY_ID, MESSAGE_PROOF_TYPE, START_PROOF_TYPE, type MessageProofPayload, type SignedMessageProof, type SignedStartProof, type StartProofPayload } from './schema';

const PREFIX = 'tgk';
const FORMAT = /^tgk\.(ak_[0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

export class ApiKeyError extends Error {
  override readonly name = 'ApiKeyError';
}

export interface ParsedApiKey {
  readonly keyId: string;
  /** 32-byte Ed25519 seed. */
  readonly seed: Uint8Array;
}

export interface GeneratedApiKey {
  readonly keyId: string;
  /** The whole key (`tgk.<key id>.<secret>`): show it once, store it nowhere. */
  readonly apiKey: string;
  /** Public half (base64url), the only part governance stores. */
  readonly publicKey: string;
}

export function generateApiKey(): GeneratedApiKey {
  const keyId = `ak_${randomBytes(8).toString('hex')}`;
  const seed = new Uint8Array(randomBytes(32));
  return { keyId, apiKey: `${PREFIX}.${keyId}.${toBase64Url(seed)}`, publicKey: publicKeyOf(seed) };
}

export function publicKeyOf(seed: Uint8Array): string {
  const x = createPublicKey(privateKeyFromSeed(seed)).export({ format: 'jwk' }).x;
  if (!x) throw new ApiKeyError('could not derive the public half of the API key');
  return x;
}

/** Parses an API key; the error never contains the key or any part of it. */
export function parseApiKey(apiKey: string): ParsedApiKey {
  const match = typeof apiKey === 'string' ? FORMAT.exec(apiKey.trim()) : null;
  if (!match) throw new ApiKeyError('malformed API key: expected tgk.<key id>.<secret> as printed by `temporal-governance api-keys create`');
  const keyId = match[1]!;
  if (!API_KEY_ID.test(keyId)) throw new ApiKeyError('malformed API key id');
  return { keyId, seed: fromBase64Url(match[2]!) };
}

export function startProofSigningInput(payload: StartProofPayload): Uint8Array {
  return utf8ToBytes(canonicalize(payload));
}

/**
 * Every proof a client makes (start, message, schedule) is signed the same way: Ed25519 with the
 * API key's seed over the UTF-8 bytes of the payload's canonical JSON, base64url.
 */
export function signWithApiKey<P>(payload: P, key: ParsedApiKey): { payload: P; signature: string } {
  return { payload, signature: toBase64Url(nodeEd25519.sign(utf8ToBytes(canonicalize(payload)), key.seed)) };
}

/** 128 random bits, so two proofs of identical content in the same millisecond differ. */
export function proofNonce(): string {
  return randomBytes(16).toString('hex');
}

/** Signs a proof bound to one start: namespace, workflow id, workflow type, argument digest and time. */
export function signStartProof(
  key: ParsedApiKey,
  start: { namespace: string; workflowId: string; workflowType: string; taskQueue: string; argsDigest: string },
  now: number = Date.now(),
): SignedStartProof {
  const payload: StartProofPayload = {
    typ: START_PROOF_TYPE,
    keyId: key.keyId,
    namespace: start.namespace,
    workflowId: start.workflowId,
    workflowType: start.workflowType,
    taskQueue: start.taskQueue,
    argsDigest: start.argsDigest,
    issuedAt: now,
    nonce: proofNonce(),
  };
  return signWithApiKey(payload, key);
}

/** What a message proof binds; see MessageProofPayloadSchema. */
export interface ProvenMessage {
  readonly kind: 'signal' | 'update';
  readonly namespace: string;
  readonly workflowId: string;
  readonly runId: string | null;
  readonly name: string;
  readonly updateId: string | null;
  readonly argsDigest: string;
}

/** Signs a proof bound to one signal or update: its workflow (and run), handler name, update id and arguments. */
export function signMessageProof(key: ParsedApiKey, message: ProvenMessage, now: number = Date.now()): SignedMessageProof {
  const payload: MessageProofPayload = {
    typ: MESSAGE_PROOF_TYPE,
    keyId: key.keyId,
    kind: message.kind,
    namespace: message.namespace,
    workflowId: message.workflowId,
    runId: message.runId,
    name: message.name,
    updateId: message.updateId,
    argsDigest: message.argsDigest,
    issuedAt: now,
    nonce: proofNonce(),
  };
  return signWithApiKey(payload, key);
}
