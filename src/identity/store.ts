// Identity in MongoDB: principals, API keys (public halves only), revocations, and the registry
// that makes a start proof single-use. Uses only what FerretDB also serves.
import { groupedInserts } from '../lineage/grouped-insert';
import type { Collection, Db } from 'mongodb';
import { z } from 'zod';
import { generateApiKey } from './api-key';
import {
  ApiKeyDocumentSchema,
  IDENTITY_COLLECTIONS,
  PrincipalDocumentSchema,
  PrincipalIdSchema,
  RevocationDocumentSchema,
  StartProofClaimSchema,
  MessageProofClaimSchema,
  type MessageProofClaim,
  ArtifactClaimSchema,
  RunGrantDocumentSchema,
  type ArtifactClaim,
  type RunGrantDocument,
  type ApiKeyDocument,
  type PrincipalDocument,
  type RevocationDocument,
  type RevocationKind,
  type StartProofClaim,
} from './schema';
import { identitySnapshot, type IdentitySnapshot } from './snapshot';
import { pruneOlderThan, READ_DEADLINE_MS } from '../lineage/store';

/** Server-side deadline of the hot path's reads (claims, the identity refresh): see READ_DEADLINE_MS. */
const READ = { maxTimeMS: READ_DEADLINE_MS } as const;

export class IdentityStoreError extends Error {
  override readonly name = 'IdentityStoreError';
}

const principals = (db: Db) => db.collection<PrincipalDocument>(IDENTITY_COLLECTIONS.principals);
const apiKeys = (db: Db) => db.collection<ApiKeyDocument>(IDENTITY_COLLECTIONS.apiKeys);
const revocations = (db: Db) => db.collection<RevocationDocument>(IDENTITY_COLLECTIONS.revocations);
const startProofs = (db: Db) => db.collection<StartProofClaim>(IDENTITY_COLLECTIONS.startProofs);
const artifactClaims = (db: Db) => db.collection<ArtifactClaim>(IDENTITY_COLLECTIONS.artifactClaims);

function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: number }).code === 11000;
}

function parseAll<T>(schema: z.ZodType<T>, docs: unknown[], what: string): T[] {
  return docs.map((doc) => {
    const parsed = schema.safeParse(doc);
    if (!parsed.success) {
      const id = (doc as { _id?: unknown })._id;
      const issue = parsed.error.issues[0];
      throw new IdentityStoreError(`${what} ${JSON.stringify(id)} in MongoDB is malformed: ${issue ? `${issue.path.join('.') || '<root>'}: ${issue.message}` : 'invalid'}`);
    }
    return parsed.data;
  });
}

const RolesSchema = z.array(z.string().min(1).max(200)).min(1, 'give at least one role');

export async function createPrincipal(db: Db, input: { id: string; roles: string[]; description?: string | null }, now = new Date()): Promise<PrincipalDocument> {
  const id = PrincipalIdSchema.safeParse(input.id);
  if (!id.success) throw new IdentityStoreError(`invalid principal id: ${id.error.issues[0]!.message}`);
  const roles = RolesSchema.safeParse(input.roles);
  if (!roles.success) throw new IdentityStoreError(`invalid roles: ${roles.error.issues[0]!.message}`);
  const doc: PrincipalDocument = { _id: id.data, roles: [...new Set(roles.data)].sort(), description: input.description ?? null, createdAt: now };
  try {
    await principals(db).insertOne(doc);
  } catch (err) {
    if (isDuplicateKey(err)) throw new IdentityStoreError(`principal ${id.data} already exists`);
    throw err;
  }
  return doc;
}

export async function listPrincipals(db: Db): Promise<PrincipalDocument[]> {
  return parseAll(PrincipalDocumentSchema, await principals(db).find({}).sort({ _id: 1 }).toArray(), 'principal');
}

/**
 * Creates an API key for a principal. Returns the key string, which exists only in this return
 * value: MongoDB receives the public half.
 */
export async function createApiKey(
  db: Db,
  input: { principal: string; roles?: string[] | null; expiresAt?: Date | null },
  now = new Date(),
): Promise<{ document: ApiKeyDocument; apiKey: string }> {
  const principal = PrincipalDocumentSchema.safeParse(await principals(db).findOne({ _id: input.principal }));
  if (!principal.success) throw new IdentityStoreError(`principal ${input.principal} does not exist; create it first`);
  if (await revocations(db).findOne({ _id: `principal:${input.principal}` })) throw new IdentityStoreError(`principal ${input.principal} is revoked`);
  let roles: string[] | null = null;
  if (input.roles) {
    const parsed = RolesSchema.safeParse(input.roles);
    if (!parsed.success) throw new IdentityStoreError(`invalid roles: ${parsed.error.issues[0]!.message}`);
    const extra = parsed.data.filter((r) => !principal.data.roles.includes(r));
    if (extra.length > 0) throw new IdentityStoreError(`principal ${input.principal} does not hold ${extra.join(', ')}; a key can only narrow its principal's roles`);
    roles = [...new Set(parsed.data)].sort();
  }
  if (input.expiresAt && input.expiresAt.getTime() <= now.getTime()) throw new IdentityStoreError('the expiry is in the past');
  const generated = generateApiKey();
  const document: ApiKeyDocument = {
    _id: generated.keyId,
    principal: input.principal,
    publicKey: generated.publicKey,
    roles,
    createdAt: now,
    expiresAt: input.expiresAt ?? null,
  };
  await apiKeys(db).insertOne(document);
  return { document, apiKey: generated.apiKey };
}

export async function listApiKeys(db: Db, filter: { principal?: string } = {}): Promise<ApiKeyDocument[]> {
  return parseAll(ApiKeyDocumentSchema, await apiKeys(db).find(filter.principal ? { principal: filter.principal } : {}).sort({ createdAt: 1 }).toArray(), 'API key');
}

/** Sets (or brings forward) a key's expiry; expiring never extends a key's life. */
export async function expireApiKey(db: Db, keyId: string, at = new Date()): Promise<ApiKeyDocument> {
  const key = ApiKeyDocumentSchema.safeParse(await apiKeys(db).findOne({ _id: keyId }));
  if (!key.success) throw new IdentityStoreError(`API key ${keyId} does not exist`);
  if (key.data.expiresAt && key.data.expiresAt.getTime() <= at.getTime()) return key.data;
  await apiKeys(db).updateOne({ _id: keyId }, { $set: { expiresAt: at } });
  return { ...key.data, expiresAt: at };
}

/**
 * Records a revocation (idempotent: the first reason and time are kept). For an authorization use
 * revokeAuthorization (src/identity/revoke-authorization.ts): a continue-as-new hop must be revoked
 * through its chain id, which this low-level write does not look up.
 */
export async function revoke(db: Db, kind: RevocationKind, id: string, reason: string, now = new Date()): Promise<RevocationDocument> {
  const doc: RevocationDocument = { _id: `${kind}:${id}`, kind, id, reason, at: now };
  try {
    await revocations(db).insertOne(doc);
    return doc;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return parseAll(RevocationDocumentSchema, [await revocations(db).findOne({ _id: doc._id })], 'revocation')[0]!;
  }
}

export async function listRevocations(db: Db): Promise<RevocationDocument[]> {
  return parseAll(RevocationDocumentSchema, await revocations(db).find({}).sort({ at: 1 }).toArray(), 'revocation');
}

/** The revocations with these `_id`s (`<kind>:<id>`, e.g. revocationKeys of a decision), oldest first (index: _id). */
export async function revocationsByKey(db: Db, keys: readonly string[]): Promise<RevocationDocument[]> {
  if (keys.length === 0) return [];
  return parseAll(RevocationDocumentSchema, await revocations(db).find({ _id: { $in: [...new Set(keys)] } }).sort({ at: 1 }).toArray(), 'revocation');
}

/** Reads the whole identity state. A malformed document fails the read (so the state goes stale and denies), never skips. */
export async function loadIdentitySnapshot(db: Db, now: () => number = Date.now): Promise<IdentitySnapshot> {
  const loadedAt = now();
  const [p, k, r] = await Promise.all([principals(db).find({}, READ).toArray(), apiKeys(db).find({}, READ).toArray(), revocations(db).find({}, READ).toArray()]);
  return identitySnapshot(
    {
      principals: parseAll(PrincipalDocumentSchema, p, 'principal'),
      apiKeys: parseAll(ApiKeyDocumentSchema, k, 'API key'),
      revocations: parseAll(RevocationDocumentSchema, r, 'revocation'),
    },
    loadedAt,
  );
}

/**
 * Claims a start proof for one logical start. 'claimed' the first time; 'same' when the proof was
 * claimed by this start before (a retried authorization, a workflow retry or cron run); 'replayed'
 * when another start claimed it.
 */
export async function claimStartProof(
  db: Db,
  claim: { proofId: string; firstExecutionRunId: string; workflowId: string },
  now = new Date(),
  /** Child and continue-as-new grants are claimed the same way, in a registry that is never pruned. */
  registry: 'start_proofs' | 'grant_claims' = 'start_proofs',
): Promise<'claimed' | 'same' | 'replayed'> {
  const collection: Collection<StartProofClaim> = registry === 'start_proofs' ? startProofs(db) : db.collection<StartProofClaim>(IDENTITY_COLLECTIONS.grantClaims);
  try {
    await collection.insertOne({ _id: claim.proofId, firstExecutionRunId: claim.firstExecutionRunId, workflowId: claim.workflowId, at: now });
    return 'claimed';
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const [stored] = parseAll(StartProofClaimSchema, [await collection.findOne({ _id: claim.proofId }, READ)], 'start proof claim');
    return stored!.firstExecutionRunId === claim.firstExecutionRunId && stored!.workflowId === claim.workflowId ? 'same' : 'replayed';
  }
}

/**
 * First use of a signal or update proof: 'claimed' the first time, 'same' for a retry of the same
 * authorization (same run, same message), 'replayed' for anything else: a proof copied from history
 * and sent again, or claimed by workflow code for another message.
 */
export async function claimMessageProof(db: Db, claim: Omit<MessageProofClaim, 'at'>, now = new Date()): Promise<'claimed' | 'same' | 'replayed'> {
  const collection = db.collection<MessageProofClaim>(IDENTITY_COLLECTIONS.messageClaims);
  try {
    await collection.insertOne({ ...claim, at: now });
    return 'claimed';
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const [stored] = parseAll(MessageProofClaimSchema, [await collection.findOne({ _id: claim._id }, READ)], 'message proof claim');
    return stored!.workflowId === claim.workflowId && stored!.runId === claim.runId && stored!.messageId === claim.messageId ? 'same' : 'replayed';
  }
}

/** Whether a proof was already claimed, and by which start (for workflow retries and cron runs). */
export async function findStartProofClaim(db: Db, proofId: string): Promise<StartProofClaim | null> {
  const doc = await startProofs(db).findOne({ _id: proofId }, READ);
  return doc ? parseAll(StartProofClaimSchema, [doc], 'start proof claim')[0]! : null;
}

/**
 * First use of a per-call artifact: 'claimed' the first time, 'same' for another attempt of the
 * same scheduling, 'replayed' for any other scheduling. One insert on the hot path; a read only
 * when the artifact was seen before.
 */
export async function claimArtifact(
  db: Db,
  claim: Omit<ArtifactClaim, 'at'>,
  now = new Date(),
): Promise<'claimed' | 'same' | 'replayed'> {
  const collection = artifactClaims(db);
  // Concurrent calls' claims share one insert command (group commit); each learns its own outcome.
  if ((await groupedInserts<ArtifactClaim>(db, IDENTITY_COLLECTIONS.artifactClaims).insert({ ...claim, at: now })) === 'duplicate') {
    const [stored] = parseAll(ArtifactClaimSchema, [await collection.findOne({ _id: claim._id }, READ)], 'artifact claim');
    return stored!.scheduledAt === claim.scheduledAt && stored!.runId === claim.runId && stored!.activityId === claim.activityId ? 'same' : 'replayed';
  }
  return 'claimed';
}

/**
 * Drops claims no scheduling can need any more. A claim is written when an artifact is first used,
 * after its issue; once `artifactTtlMs` (plus clock margin) has passed since then, the artifact's
 * expiry refuses any new scheduling's first attempt, and a retry of the claimed scheduling simply
 * claims again. So `artifact_claims` holds about one artifact lifetime of protected calls.
 */
export async function pruneArtifactClaims(db: Db, olderThan: Date, limit?: number): Promise<number> {
  return pruneOlderThan(db, IDENTITY_COLLECTIONS.artifactClaims, olderThan, limit);
}

/** Records which authorization gave a run its grant, unless one already did; returns the recorded one. */
export async function claimRunGrant(
  db: Db,
  run: { namespace: string; runId: string; workflowId: string },
  grant: { grantId: string; scheduling: string },
  now = new Date(),
): Promise<{ grantId: string; scheduling: string }> {
  const collection = db.collection<RunGrantDocument>(IDENTITY_COLLECTIONS.runGrants);
  const _id = `${run.namespace}/${run.workflowId}/${run.runId}`;
  try {
    await collection.insertOne({ _id, grantId: grant.grantId, scheduling: grant.scheduling, workflowId: run.workflowId, at: now });
    return grant;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const [stored] = parseAll(RunGrantDocumentSchema, [await collection.findOne({ _id }, READ)], 'run grant');
    return { grantId: stored!.grantId, scheduling: stored!.scheduling };
  }
}

