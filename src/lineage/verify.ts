// Offline verification of the lineage collection from MongoDB and the trust bundle only: every
// signature, every derived field, every hash link, every parent/ancestor link, and sequence
// completeness. Reads each root once, in seq order, as a stream. docs/lineage.md describes each check.
import type { Db } from 'mongodb';
import { payloadHash, signingInput, type Ed25519 } from '../artifact/artifact';
import type { TrustBundle } from '../artifact/trust-bundle';
import { fromBase64Url } from '../common/base64url';
import { canonicalize } from '../common/canonical';
import type { ArtifactPayload, SignedArtifact, SignedDenial } from '../common/schemas';
import { nodeEd25519 } from '../crypto/node';
import { countRecords, parseLineageDocument, rawLineageCollection, rootDocuments, type ParsedDocument } from './queries';
import { chainHash, GENESIS_HASH, recordFields, type LineageRecord } from './schema';

export const ViolationCodes = {
  /** The document does not parse as a lineage record. */
  schemaInvalid: 'SCHEMA_INVALID',
  /** kind, decision and the artifact/denial members disagree. */
  kindMismatch: 'KIND_MISMATCH',
  untrustedKey: 'UNTRUSTED_KEY',
  /** The signing key's validity window does not contain the decision's issuedAt. */
  keyNotValid: 'KEY_NOT_VALID',
  badSignature: 'BAD_SIGNATURE',
  /** A searchable field differs from the signed payload it is derived from. */
  fieldMismatch: 'FIELD_MISMATCH',
  /** hash is not chainHash of the document's link. */
  hashMismatch: 'HASH_MISMATCH',
  /** prevHash is not the hash of the document with the previous seq (GENESIS_HASH for seq 0). */
  prevHashMismatch: 'PREV_HASH_MISMATCH',
  seqGap: 'SEQ_GAP',
  seqDuplicate: 'SEQ_DUPLICATE',
  parentMissing: 'PARENT_MISSING',
  /** The parent document exists but does not parse. */
  parentInvalid: 'PARENT_INVALID',
  parentOtherRoot: 'PARENT_OTHER_ROOT',
  /** The parent comes later in the root's sequence than its child. */
  parentAfterChild: 'PARENT_AFTER_CHILD',
  /** The parent is a denial or a per-call artifact: only grants have children. */
  parentNotGrant: 'PARENT_NOT_GRANT',
  /** The signed parent.hash is not the payload hash of the stored parent. */
  parentHashMismatch: 'PARENT_HASH_MISMATCH',
  /** Principal, namespace or run binding does not follow from the parent (docs/artifact.md 10.2). */
  parentRelation: 'PARENT_RELATION',
  ancestorsMismatch: 'ANCESTORS_MISMATCH',
  depthMismatch: 'DEPTH_MISMATCH',
  /** A parentless record that is not its root's root run grant. */
  rootMismatch: 'ROOT_MISMATCH',
  /** --root named a root without documents. */
  rootEmpty: 'ROOT_EMPTY',
} as const;
export type ViolationCode = (typeof ViolationCodes)[keyof typeof ViolationCodes];

export interface Violation {
  /** The document at fault (for a gap: the document after it). */
  readonly id: string;
  readonly rootId: string;
  readonly seq: number | null;
  readonly code: ViolationCode;
  readonly message: string;
}

export interface VerifySummary {
  readonly roots: number;
  readonly records: number;
  readonly violations: Violation[];
}

export interface VerifyOptions {
  /** Verify only this root; all roots otherwise. */
  readonly rootId?: string;
  readonly ed25519?: Ed25519;
  /** Called after every document with the count so far and the total counted at the start. */
  readonly onProgress?: (done: number, total: number) => void;
}

type Problem = { readonly code: ViolationCode; readonly message: string };

/**
 * Signature and key check at the decision's own time: the key must be in the bundle, its window
 * [notBefore, notAfter) must contain issuedAt, and the Ed25519 signature must verify over
 * signingInput(payload). Unlike verifySignedArtifact, the current time plays no part, so records
 * signed by a key retired since still verify (docs/artifact.md 10.1 with T = issuedAt).
 */
export function checkSignatureAtIssue(signed: SignedArtifact | SignedDenial, trust: TrustBundle, ed: Ed25519 = nodeEd25519): Problem | null {
  const p = signed.payload;
  const key = trust.keys.get(p.kid);
  if (!key) return { code: ViolationCodes.untrustedKey, message: `key ${JSON.stringify(p.kid)} is not in the trust bundle` };
  if (p.issuedAt < key.notBefore || (key.notAfter !== null && p.issuedAt >= key.notAfter)) {
    const window = `[${new Date(key.notBefore).toISOString()}, ${key.notAfter === null ? 'open' : new Date(key.notAfter).toISOString()})`;
    return { code: ViolationCodes.keyNotValid, message: `key ${key.kid} was not valid at issuedAt ${new Date(p.issuedAt).toISOString()} (window ${window})` };
  }
  let signature: Uint8Array;
  try {
    signature = fromBase64Url(signed.signature);
  } catch (err) {
    return { code: ViolationCodes.badSignature, message: `signature does not decode: ${(err as Error).message}` };
  }
  if (signature.length !== 64 || !ed.verify(signature, signingInput(p), key)) {
    return { code: ViolationCodes.badSignature, message: `signature does not verify with key ${key.kid}` };
  }
  return null;
}

const GRANT_ACTIONS = new Set(['workflow', 'child-workflow', 'continue-as-new']);

/** What a child needs to know about its parent; kept for every record of the root being verified. */
interface ParentInfo {
  readonly id: string;
  readonly rootId: string;
  readonly seq: number;
  readonly ancestors: readonly string[];
  readonly kind: 'artifact' | 'denial';
  readonly action: string;
  /** Grants only (the only possible parents); null for per-call artifacts and denials. */
  readonly payload: ArtifactPayload | null;
  /** payloadHash(payload), computed once: every child compares its signed parent.hash with it. */
  readonly payloadHash: string | null;
}

function parentInfo(r: LineageRecord): ParentInfo {
  const grant = r.kind === 'artifact' && r.artifact && GRANT_ACTIONS.has(r.artifact.payload.action) ? r.artifact.payload : null;
  return { id: r._id, rootId: r.rootId, seq: r.seq, ancestors: r.ancestors, kind: r.kind, action: r.action, payload: grant, payloadHash: grant && payloadHash(grant) };
}

const short = (v: unknown) => {
  const text = v instanceof Date ? v.toISOString() : JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  return canonicalize(a) === canonicalize(b);
}

/** Docs/artifact.md 10.2 steps 11-12: what the issuer guarantees between a decision and its parent grant. */
export function relationProblems(x: SignedArtifact['payload'] | SignedDenial['payload'], p: ArtifactPayload): string[] {
  const problems: string[] = [];
  if ('credential' in x) {
    // Authority only narrows down a chain (docs/identity.md): same credential, roles a subset, and the
    // signed ancestry is the parent's plus the parent.
    if (x.credential !== p.credential) problems.push(`credential ${short(x.credential)} differs from the parent's ${short(p.credential)}`);
    const widened = x.roles.filter((role) => !p.roles.includes(role));
    if (widened.length > 0) problems.push(`roles ${short(widened)} are not held by the parent grant ${p.id}`);
    if (!same(x.ancestors, [...p.ancestors, p.id])) problems.push(`signed ancestors ${short(x.ancestors)} are not the parent's plus the parent`);
    if (!same(x.ancestorKids, [...p.ancestorKids, p.kid])) problems.push(`signed ancestorKids ${short(x.ancestorKids)} are not the parent's plus the parent's kid`);
  }
  if (x.principal !== p.principal) problems.push(`principal ${short(x.principal)} differs from the parent's ${short(p.principal)}`);
  if (x.namespace !== p.namespace) problems.push(`namespace ${short(x.namespace)} differs from the parent's ${short(p.namespace)}`);
  if (x.action === 'workflow') {
    const viaChild = p.action === 'child-workflow' && p.childWorkflowId === x.workflowId;
    const viaContinue = p.action === 'continue-as-new' && p.workflowId === x.workflowId;
    if (!viaChild && !viaContinue) problems.push(`a run grant must descend from the child-workflow or continue-as-new artifact that created its run, not from ${p.action} ${p.id}`);
    else if (p.target !== x.target || p.argsDigest !== x.argsDigest || p.taskQueue !== x.taskQueue) {
      problems.push(`the run's type, input or task queue differ from what the parent ${p.action} artifact authorized`);
    }
  } else if (p.action !== 'workflow' || p.workflowId !== x.workflowId || p.runId !== x.runId) {
    problems.push(`a ${x.action} decision must descend from the run grant of its own run (${x.workflowId}/${x.runId}), not from ${p.action} ${p.id}`);
  }
  return problems;
}

class RootVerifier {
  private readonly seen = new Map<string, ParentInfo>();
  private prev: { id: string; seq: number | null; hash: string | null } | null = null;

  constructor(
    readonly rootId: string,
    private readonly trust: TrustBundle,
    private readonly ed: Ed25519,
    private readonly lookup: (id: string) => Promise<ParsedDocument | null>,
    private readonly report: (v: Violation) => void,
  ) {}

  async check(doc: ParsedDocument): Promise<void> {
    const id = doc.ok ? doc.record._id : doc.id;
    const seq = doc.ok ? doc.record.seq : doc.seq;
    const hash = doc.ok ? doc.record.hash : doc.hash;
    const add = (code: ViolationCode, message: string, at: number | null = seq) => this.report({ id, rootId: this.rootId, seq: at, code, message });

    // Sequence: contiguous from 0, no gaps, no duplicates. The stream is sorted by seq.
    let contiguous = false;
    if (seq !== null) {
      const prevSeq = this.prev?.seq ?? null;
      if (this.prev === null) {
        if (seq > 0) add(ViolationCodes.seqGap, `seq ${range(0, seq - 1)} missing: the first document of root ${this.rootId} is ${id} (seq ${seq})`, 0);
        contiguous = seq === 0;
      } else if (prevSeq === null) {
        contiguous = false;
      } else if (seq === prevSeq) {
        add(ViolationCodes.seqDuplicate, `seq ${seq} is used by ${this.prev.id} and ${id}`);
      } else if (seq > prevSeq + 1) {
        add(ViolationCodes.seqGap, `seq ${range(prevSeq + 1, seq - 1)} missing between ${this.prev.id} (seq ${prevSeq}) and ${id} (seq ${seq})`, prevSeq + 1);
      } else {
        contiguous = true;
      }
    }
    const prev = this.prev;
    this.prev = { id, seq, hash };

    if (!doc.ok) {
      add(ViolationCodes.schemaInvalid, `not a valid lineage record: ${doc.problems.join('; ')}`);
      return;
    }
    const r = doc.record;

    // The signed decision the document carries.
    const signed: SignedArtifact | SignedDenial | null = r.kind === 'artifact' ? r.artifact : r.denial;
    const other = r.kind === 'artifact' ? r.denial : r.artifact;
    if (!signed || other !== null) {
      add(ViolationCodes.kindMismatch, `kind ${r.kind} must carry ${r.kind === 'artifact' ? 'an artifact and no denial' : 'a denial and no artifact'}`);
      if (!signed) return;
    }
    const signature = checkSignatureAtIssue(signed, this.trust, this.ed);
    if (signature) add(signature.code, signature.message);

    // Every searchable field must be what the signed payload says.
    const expected: Record<string, unknown> = recordFields(signed, r.kind);
    for (const [field, value] of Object.entries(expected)) {
      if (field === 'artifact' || field === 'denial') continue;
      const stored = (r as unknown as Record<string, unknown>)[field];
      if (!same(stored, value)) add(ViolationCodes.fieldMismatch, `${field} is ${short(stored)} in the document but ${short(value)} in the signed payload`);
    }

    // The hash chain.
    const recomputed = chainHash({ rootId: r.rootId, seq: r.seq, prevHash: r.prevHash, parentId: r.parentId, ancestors: r.ancestors, signed });
    if (recomputed !== r.hash) add(ViolationCodes.hashMismatch, `hash ${r.hash} is not the hash of this document's link (${recomputed})`);
    if (contiguous) {
      const want = prev === null ? GENESIS_HASH : prev.hash;
      if (want !== null && r.prevHash !== want) {
        add(
          ViolationCodes.prevHashMismatch,
          prev === null ? `seq 0 must have prevHash ${GENESIS_HASH}, has ${r.prevHash}` : `prevHash ${r.prevHash} is not the hash of ${prev.id} (seq ${prev.seq}): ${want}`,
        );
      }
    }

    // Parent and ancestors.
    const parentRef = signed.payload.parent;
    if (parentRef === null) {
      if (r.ancestors.length > 0) add(ViolationCodes.ancestorsMismatch, `a record without parent must have no ancestors, has ${short(r.ancestors)}`);
      if (r.rootId !== r._id) add(ViolationCodes.rootMismatch, `a record without parent must be its own root, but its rootId is ${r.rootId}`);
      else if (r.kind === 'artifact' && r.action !== 'workflow') add(ViolationCodes.rootMismatch, `a root artifact must be a run grant (action workflow), is ${r.action}`);
    } else {
      await this.checkParent(r, signed, parentRef, add);
    }
    if (r.depth !== r.ancestors.length) add(ViolationCodes.depthMismatch, `depth ${r.depth} but ${r.ancestors.length} ancestor(s)`);

    this.seen.set(r._id, parentInfo(r));
  }

  private async checkParent(
    r: LineageRecord,
    signed: SignedArtifact | SignedDenial,
    ref: { id: string; hash: string },
    add: (code: ViolationCode, message: string) => void,
  ): Promise<void> {
    let parent = this.seen.get(ref.id);
    if (!parent) {
      const found = await this.lookup(ref.id);
      if (!found) return add(ViolationCodes.parentMissing, `parent ${ref.id} has no document`);
      if (!found.ok) return add(ViolationCodes.parentInvalid, `parent ${ref.id} is not a valid lineage record`);
      parent = parentInfo(found.record);
      if (parent.rootId !== r.rootId) return add(ViolationCodes.parentOtherRoot, `parent ${ref.id} belongs to root ${parent.rootId}, not ${r.rootId}`);
      add(ViolationCodes.parentAfterChild, `parent ${ref.id} has seq ${parent.seq}, after this record's seq ${r.seq}`);
    }
    const expectedAncestors = [...parent.ancestors, ref.id];
    if (!same(r.ancestors, expectedAncestors)) add(ViolationCodes.ancestorsMismatch, `ancestors ${short(r.ancestors)} should be the parent's ancestors plus the parent: ${short(expectedAncestors)}`);
    if (!parent.payload || !parent.payloadHash) return add(ViolationCodes.parentNotGrant, `parent ${ref.id} is a ${parent.kind === 'denial' ? 'denial' : `${parent.action} artifact`}; only grants have children`);
    const parentHash = parent.payloadHash;
    if (parentHash !== ref.hash) add(ViolationCodes.parentHashMismatch, `the signed parent hash ${ref.hash} is not the payload hash of ${ref.id} (${parentHash})`);
    const problems = relationProblems(signed.payload, parent.payload);
    if (problems.length > 0) add(ViolationCodes.parentRelation, problems.join('; '));
  }
}

function range(from: number, to: number): string {
  return from === to ? `${from}` : `${from}..${to}`;
}

/**
 * Verifies every root (or one), streaming each in seq order. Needs nothing but the database and the
 * trust bundle; returns every violation found (never throws on bad documents).
 */
export async function verifyLineage(db: Db, trust: TrustBundle, options: VerifyOptions = {}): Promise<VerifySummary> {
  const ed = options.ed25519 ?? nodeEd25519;
  const violations: Violation[] = [];
  const total = await countRecords(db, options.rootId);
  const collection = rawLineageCollection(db);
  const lookup = async (id: string) => {
    const doc = await collection.findOne({ _id: id });
    return doc ? parseLineageDocument(doc) : null;
  };

  let roots = 0;
  let records = 0;
  let current: RootVerifier | null = null;
  for await (const doc of rootDocuments(db, options.rootId)) {
    const rootId = doc.ok ? doc.record.rootId : (doc.rootId ?? '(no rootId)');
    if (current === null || current.rootId !== rootId) {
      current = new RootVerifier(rootId, trust, ed, lookup, (v) => violations.push(v));
      roots += 1;
    }
    await current.check(doc);
    records += 1;
    options.onProgress?.(records, Math.max(total, records));
  }
  if (options.rootId !== undefined && records === 0) {
    violations.push({ id: options.rootId, rootId: options.rootId, seq: null, code: ViolationCodes.rootEmpty, message: `root ${options.rootId} has no lineage documents` });
  }
  return { roots, records, violations };
}
