// Revoking an authorization by id (`temporal-governance revoke authorization ID`).
//
// Artifacts list their ancestors by level of nesting, not by continue-as-new hop (docs/artifact.md
// section 5): a continued run's grant or a continue-as-new artifact (a "hop", chain.id != id) is
// listed by nothing below it; everything below it lists its chain id. So revoking a hop revokes its
// chain id as well. The chain's earlier hops are closed runs (a run that continued as new has
// ended), so revoking the whole chain takes away exactly the live authority below the hop.
import type { Db } from 'mongodb';
import { isCollapsed } from '../artifact/ancestry';
import { SignedArtifactSchema, SignedDenialSchema, type ArtifactPayload } from '../common/schemas';
import { DEAD_LETTER_COLLECTION, LINEAGE_COLLECTION, OUTBOX_COLLECTION } from '../lineage/schema';
import { IdentityStoreError, revoke } from './store';
import type { RevocationDocument } from './schema';

/** Where the id was found: a lineage record, the write-ahead outbox (issued, not yet chained), a dead letter, or nowhere. */
export type IssuedWhere = 'lineage' | 'outbox' | 'dead-letters' | 'nowhere';

export interface RevokedId {
  readonly id: string;
  /** Why it is revoked: the id asked for, or the chain of a continue-as-new hop. */
  readonly as: 'given' | 'chain';
  readonly revocation: RevocationDocument;
  /** False when it was revoked before (revoking is idempotent: the first time and reason stay). */
  readonly created: boolean;
}

export interface AuthorizationRevocation {
  readonly found: IssuedWhere;
  /** The artifact found (null when found nowhere). */
  readonly artifact: ArtifactPayload | null;
  /** The id asked for first, then the chain id when the artifact is a continue-as-new hop. */
  readonly revoked: readonly RevokedId[];
}

/** A denial was named: nothing to revoke. */
export class NotAnAuthorizationError extends IdentityStoreError {}

type Found = { where: Exclude<IssuedWhere, 'nowhere'>; signed: unknown; kind: unknown };

/** The decision with this id as governance issued it: lineage first, else the outbox (every decision is there before it is returned), else dead letters. */
async function findIssued(db: Db, id: string): Promise<Found | null> {
  const record = await db.collection<{ _id: string }>(LINEAGE_COLLECTION).findOne({ _id: id }, { projection: { kind: 1, artifact: 1, denial: 1 } });
  if (record) {
    const r = record as { kind?: unknown; artifact?: unknown; denial?: unknown };
    return { where: 'lineage', kind: r.kind, signed: r.kind === 'denial' ? r.denial : r.artifact };
  }
  for (const [where, collection] of [
    ['outbox', OUTBOX_COLLECTION],
    ['dead-letters', DEAD_LETTER_COLLECTION],
  ] as const) {
    const entry = await db.collection<{ _id: string }>(collection).findOne({ _id: id }, { projection: { signal: 1 } });
    const signal = (entry as { signal?: { kind?: unknown; signed?: unknown } } | null)?.signal;
    if (signal) return { where, kind: signal.kind, signed: signal.signed };
  }
  return null;
}

/**
 * Revokes authorization `id` and, when it is a continue-as-new hop, its chain id. MongoDB is
 * trusted (threat model): what the lineage collection, the outbox and dead letters hold was written
 * by governance (lineage verified every signature before storing). An id found nowhere is revoked
 * as given (`found: 'nowhere'`): this governance never issued it, or its store is another database.
 */
export async function revokeAuthorization(db: Db, id: string, reason: string, now = new Date()): Promise<AuthorizationRevocation> {
  if (id === '') throw new IdentityStoreError('the authorization id must not be empty');
  const found = await findIssued(db, id);
  let artifact: ArtifactPayload | null = null;
  if (found) {
    if (found.kind === 'denial' || SignedDenialSchema.safeParse(found.signed).success) {
      throw new NotAnAuthorizationError(`${id} is a denial, not an authorization; there is nothing to revoke`);
    }
    const parsed = SignedArtifactSchema.safeParse(found.signed);
    // Fail closed: what cannot be read is revoked as given, never skipped; its chain (if any) cannot be known.
    if (parsed.success && parsed.data.payload.id === id) artifact = parsed.data.payload;
  }
  const ids: Array<{ id: string; as: RevokedId['as'] }> = [{ id, as: 'given' }];
  if (artifact && isCollapsed(artifact)) ids.push({ id: artifact.chain.id, as: 'chain' });
  // The chain first: if the second write fails, more is revoked than asked (fail closed), never less.
  const revoked: RevokedId[] = [];
  for (const entry of [...ids].reverse()) {
    const revocation = await revoke(db, 'authorization', entry.id, reason, now);
    revoked.unshift({ ...entry, revocation, created: revocation.at.getTime() === now.getTime() && revocation.reason === reason });
  }
  return { found: found?.where ?? 'nowhere', artifact, revoked };
}
