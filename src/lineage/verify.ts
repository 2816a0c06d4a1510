// Offline verification of the lineage collection from MongoDB and the trust bundle only: every
// signature, every derived field, every hash link, every parent/ancestor link, and sequence
// completeness. Reads each root once, in seq order, as a stream, and judges every document with the
// per-record checks of verify-record.ts. docs/lineage.md describes each check.
import type { Db } from 'mongodb';
import type { Ed25519 } from '../artifact/artifact';
import type { TrustBundle } from '../artifact/trust-bundle';
import { nodeEd25519 } from '../crypto/node';
import type { SignedArtifact, SignedDenial } from '../common/schemas';
import type { RevocationDocument } from '../identity/schema';
import { revocationsByKey } from '../identity/store';
import { chainNeighbours, countRecords, getRecord, parseLineageDocument, rawLineageCollection, rootDocuments, type ParsedDocument } from './queries';
import type { LineageRecord } from './schema';
import {
  parentInfo,
  revocationKeys,
  verifyDecision,
  verifyStandalone,
  ViolationCodes,
  type DecisionVerification,
  type ParentInfo,
  type ParentLink,
  type PreviousLink,
  type StandaloneFacts,
  type ViolationCode,
} from './verify-record';

// The per-record and per-link checks live in verify-record.ts (shared with the console's proof viewer).
export { relationProblems, ViolationCodes, type ViolationCode } from './verify-record';

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

    // The signed decision the document carries (a kind that carries both is the binding check's finding).
    const signed: SignedArtifact | SignedDenial | null = r.kind === 'artifact' ? r.artifact : r.denial;
    if (!signed) {
      add(ViolationCodes.kindMismatch, `kind ${r.kind} must carry ${r.kind === 'artifact' ? 'an artifact and no denial' : 'a denial and no artifact'}`);
      return;
    }
    // For seq 0 no previous record: the genesis hash is checked.
    const previous: PreviousLink | undefined = !contiguous
      ? { state: 'not-checked', why: 'the sequence breaks here (reported as a gap or duplicate)' }
      : prev === null
        ? undefined
        : { state: 'found', id: prev.id, seq: r.seq - 1, hash: prev.hash };
    const parentRef = signed.payload.parent;
    const parent = parentRef === null ? undefined : await this.parentLink(parentRef.id);
    const result = verifyDecision({ signed, kind: r.kind, record: r, parent, previous }, this.trust, this.ed);
    for (const c of result.checks) for (const f of c.findings) add(f.code, f.message);

    this.seen.set(r._id, parentInfo(r));
  }

  /** The parent as the stream saw it, else looked up (a parent that was not seen earlier comes after its child). */
  private async parentLink(id: string): Promise<ParentLink> {
    const seen = this.seen.get(id);
    if (seen) return { state: 'found', parent: seen };
    const found = await this.lookup(id);
    if (!found) return { state: 'missing' };
    if (!found.ok) return { state: 'invalid', problems: found.problems };
    return { state: 'found', parent: parentInfo(found.record) };
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

export interface RecordProof {
  readonly record: LineageRecord;
  readonly chain: { readonly previousId: string | null; readonly nextId: string | null };
  /** Revocations naming the decision (revocationKeys), oldest first. */
  readonly revocations: RevocationDocument[];
  /** Null without a trust bundle. */
  readonly verification: DecisionVerification | null;
}

/**
 * One record with everything its checks need, read from the database and judged by
 * verifyStandalone (the same checks the browser's proof viewer runs on the same facts). Null when
 * no document has this id; throws LineageDocumentError when it does not parse.
 */
export async function recordProof(db: Db, id: string, trust: TrustBundle | undefined, options: { ed25519?: Ed25519; now?: number } = {}): Promise<RecordProof | null> {
  const record = await getRecord(db, id);
  if (!record) return null;
  const signed = record.kind === 'artifact' ? record.artifact : record.denial;
  const parentId = signed?.payload.parent?.id ?? null;
  const [neighbours, parentDoc, revocations] = await Promise.all([
    chainNeighbours(db, record.rootId, record.seq),
    parentId === null ? null : rawLineageCollection(db).findOne({ _id: parentId }),
    signed ? revocationsByKey(db, revocationKeys(signed)) : [],
  ]);
  const previousId = neighbours.previous === null ? null : neighbours.previous.ok ? neighbours.previous.record._id : neighbours.previous.id;
  let verification: DecisionVerification | null = null;
  if (trust && signed) {
    const parsedParent = parentDoc ? parseLineageDocument(parentDoc) : null;
    const facts: StandaloneFacts = {
      record,
      parent: parsedParent === null ? 'missing' : parsedParent.ok ? parsedParent.record : { problems: parsedParent.problems },
      // An unparsable previous document cannot be linked to: its problems are its own record's finding.
      previous: neighbours.previous === null ? 'missing' : neighbours.previous.ok ? neighbours.previous.record : undefined,
      revocations: revocations.map((r) => ({ kind: r.kind, id: r.id, reason: r.reason, at: r.at.getTime() })),
    };
    verification = verifyStandalone(signed, record.kind, facts, trust, options.ed25519 ?? nodeEd25519, options.now === undefined ? {} : { now: options.now });
  } else if (trust) {
    verification = {
      ok: false,
      checks: [{ name: 'binding', status: 'fail', reason: `kind ${record.kind} carries no signed decision`, findings: [{ code: ViolationCodes.kindMismatch, message: `kind ${record.kind} carries no signed decision` }] }],
    };
  }
  return { record, chain: { previousId, nextId: neighbours.nextId }, revocations, verification };
}
