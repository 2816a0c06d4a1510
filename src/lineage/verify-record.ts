// The checks of one signed decision (an artifact or a denial), alone or as a lineage record, and of
// its links to its parent and to the previous record of its root's chain. One implementation for
// `lineage verify` (verify.ts walks MongoDB and calls this for every document, node:crypto) and for
// the console's proof viewer (bundled for the browser, @noble/ed25519). Imports no Node module: the
// Ed25519 primitive is passed in, and everything a link check needs (the parent, the previous
// record, revocations) is given by the caller, which says where it came from.
// docs/lineage.md section 6 describes each check and its codes.
import { z } from 'zod';
import { ancestorKidsBelow, ancestorsBelow, chainOf, isCollapsed, nestingProblem } from '../artifact/ancestry';
import { payloadHash, signingInput, CLOCK_SKEW_MS, type Ed25519 } from '../artifact/artifact';
import type { TrustBundle } from '../artifact/trust-bundle';
import { fromBase64Url } from '../common/base64url';
import { canonicalize } from '../common/canonical';
import { ARTIFACT_TYPE, DENIAL_TYPE, SignedArtifactSchema, SignedDenialSchema, type ArtifactPayload, type SignedArtifact, type SignedDenial } from '../common/schemas';
import { chainHash, GENESIS_HASH, LineageRecordSchema, recordFields, rootOf, type LineageRecord } from './schema';

export const ViolationCodes = {
  /** The document does not parse as a lineage record. */
  schemaInvalid: 'SCHEMA_INVALID',
  /** kind, decision and the artifact/denial members disagree. */
  kindMismatch: 'KIND_MISMATCH',
  untrustedKey: 'UNTRUSTED_KEY',
  /** The signing key's validity window does not contain the decision's issuedAt (or issuedAt is in the future). */
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
  /** The parent document exists but does not parse (or, verifying one record alone, its signature does not verify). */
  parentInvalid: 'PARENT_INVALID',
  parentOtherRoot: 'PARENT_OTHER_ROOT',
  /** The parent comes later in the root's sequence than its child. */
  parentAfterChild: 'PARENT_AFTER_CHILD',
  /** The parent is a denial or a per-call artifact: only grants have children. */
  parentNotGrant: 'PARENT_NOT_GRANT',
  /** The signed parent.hash is not the payload hash of the stored parent. */
  parentHashMismatch: 'PARENT_HASH_MISMATCH',
  /** Principal, namespace, run binding, chain, signed ancestry or nesting depth does not follow from the parent (docs/artifact.md 10.2). */
  parentRelation: 'PARENT_RELATION',
  ancestorsMismatch: 'ANCESTORS_MISMATCH',
  depthMismatch: 'DEPTH_MISMATCH',
  /** A parentless record that is not its root's root run grant. */
  rootMismatch: 'ROOT_MISMATCH',
  /** --root named a root without documents. */
  rootEmpty: 'ROOT_EMPTY',
  /** A revocation names the artifact, an ancestor, its parent, its chain, its key, an ancestor's key, its principal or its API key (only when revocations are supplied). */
  revoked: 'REVOKED',
} as const;
export type ViolationCode = (typeof ViolationCodes)[keyof typeof ViolationCodes];

/** The checks, in the order they are reported. */
export const CHECK_NAMES = ['signature', 'key-window', 'binding', 'parent-link', 'chain-link', 'revocations'] as const;
export type CheckName = (typeof CHECK_NAMES)[number];
export const CHECK_TITLES: Readonly<Record<CheckName, string>> = {
  signature: 'Signature',
  'key-window': 'Key window',
  binding: 'Binding',
  'parent-link': 'Parent link',
  'chain-link': 'Chain link',
  revocations: 'Revocations',
};
export type CheckStatus = 'pass' | 'fail' | 'not-applicable';

export interface Finding {
  readonly code: ViolationCode;
  readonly message: string;
}

export interface Check {
  readonly name: CheckName;
  /** `fail` exactly when there are findings. */
  readonly status: CheckStatus;
  /** What was checked and found, in one or more sentences; for a failure, the findings' messages. */
  readonly reason: string;
  readonly findings: readonly Finding[];
}

export interface DecisionVerification {
  /** No check failed (checks that do not apply do not count against it). */
  readonly ok: boolean;
  readonly checks: readonly Check[];
}

/** What a child needs to know about its parent (the walk keeps one per record of the root being verified). */
export interface ParentInfo {
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

const GRANT_ACTIONS = new Set(['workflow', 'child-workflow', 'continue-as-new']);

export function parentInfo(r: LineageRecord): ParentInfo {
  const grant = r.kind === 'artifact' && r.artifact && GRANT_ACTIONS.has(r.artifact.payload.action) ? r.artifact.payload : null;
  return { id: r._id, rootId: r.rootId, seq: r.seq, ancestors: r.ancestors, kind: r.kind, action: r.action, payload: grant, payloadHash: grant && payloadHash(grant) };
}

/** The parent named by `payload.parent`, as the caller found it. */
export type ParentLink =
  | {
      readonly state: 'found';
      readonly parent: ParentInfo;
      /**
       * Verifying one record alone: the outcome of checkSignature on the parent's own signed object
       * (null: it verifies). The walk leaves it out: every parent is verified as a record of its own.
       */
      readonly signatureProblems?: readonly Finding[];
    }
  | { readonly state: 'missing' }
  | { readonly state: 'invalid'; readonly problems: readonly string[] };

/** The record with `seq - 1` in the same root, as the caller found it (for seq 0: anything but not-checked means "check the genesis hash"). */
export type PreviousLink =
  | {
      readonly state: 'found';
      readonly id: string;
      readonly seq: number;
      /** Its stored hash (null when unreadable: the link is then not compared). */
      readonly hash: string | null;
      /** Verifying one record alone: the previous record's stored hash is not the hash of its own link. */
      readonly hashProblem?: string;
    }
  /** No record has seq - 1: a gap. */
  | { readonly state: 'missing' }
  /** The walk saw a gap or a duplicate before this record and reported it there. */
  | { readonly state: 'not-checked'; readonly why: string };

/** One revocation (identity.md section 7), `at` in ms. */
export interface RevocationFact {
  readonly kind: 'principal' | 'api-key' | 'authorization' | 'signing-key';
  readonly id: string;
  readonly reason: string;
  readonly at: number;
}

export interface DecisionInput {
  readonly signed: SignedArtifact | SignedDenial;
  readonly kind: 'artifact' | 'denial';
  /** The lineage document holding the decision, when there is one (binding, parent and chain checks use it). */
  readonly record?: LineageRecord;
  /** Required for the parent link when the decision has a parent; without it, the parent link is not applicable. */
  readonly parent?: ParentLink;
  /** Required for the chain link of a record with seq > 0; without it, only the record's own hash is checked. */
  readonly previous?: PreviousLink;
  /** Every revocation that might name this decision; without it, revocations are not consulted. */
  readonly revocations?: readonly RevocationFact[];
}

export interface DecisionOptions {
  /** The verifier's clock (ms): an issuedAt more than CLOCK_SKEW_MS ahead of it is refused. Offline audits leave it out. */
  readonly now?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

export const short = (v: unknown) => {
  const text = v instanceof Date ? v.toISOString() : (JSON.stringify(v) ?? String(v));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

export function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  return canonicalize(a) === canonicalize(b);
}

function check(name: CheckName, findings: readonly Finding[], passReason: string): Check {
  return findings.length > 0
    ? { name, status: 'fail', reason: findings.map((f) => f.message).join('; '), findings }
    : { name, status: 'pass', reason: passReason, findings };
}
const notApplicable = (name: CheckName, reason: string): Check => ({ name, status: 'not-applicable', reason, findings: [] });

/**
 * Signature at the decision's own time (docs/artifact.md 10.1 steps 4, 6-8): the key must be in
 * the bundle and the Ed25519 signature must verify over signingInput(payload). The key's window is
 * checkKeyWindow's: a record signed by a key retired since still verifies.
 */
export function checkSignature(signed: SignedArtifact | SignedDenial, trust: TrustBundle, ed: Ed25519): Check {
  const p = signed.payload;
  const key = trust.keys.get(p.kid);
  if (!key) return check('signature', [{ code: ViolationCodes.untrustedKey, message: `key ${JSON.stringify(p.kid)} is not in the trust bundle` }], '');
  let signature: Uint8Array;
  try {
    signature = fromBase64Url(signed.signature);
  } catch (err) {
    return check('signature', [{ code: ViolationCodes.badSignature, message: `signature does not decode: ${(err as Error).message}` }], '');
  }
  if (signature.length !== 64 || !ed.verify(signature, signingInput(p), key)) {
    return check('signature', [{ code: ViolationCodes.badSignature, message: `signature does not verify with key ${key.kid}` }], '');
  }
  return check('signature', [], `the Ed25519 signature verifies over the canonical payload with key ${key.kid} of the trust bundle`);
}

/** docs/artifact.md 8.2: notBefore <= issuedAt < notAfter, and (with a clock) issuedAt <= now + 5 s. */
export function checkKeyWindow(signed: SignedArtifact | SignedDenial, trust: TrustBundle, options: DecisionOptions = {}): Check {
  const p = signed.payload;
  const key = trust.keys.get(p.kid);
  if (!key) return notApplicable('key-window', `key ${JSON.stringify(p.kid)} is not in the trust bundle: it has no window`);
  const window = `[${iso(key.notBefore)}, ${key.notAfter === null ? 'open' : iso(key.notAfter)})`;
  const findings: Finding[] = [];
  if (p.issuedAt < key.notBefore || (key.notAfter !== null && p.issuedAt >= key.notAfter)) {
    findings.push({ code: ViolationCodes.keyNotValid, message: `key ${key.kid} was not valid at issuedAt ${iso(p.issuedAt)} (window ${window})` });
  }
  if (options.now !== undefined && p.issuedAt > options.now + CLOCK_SKEW_MS) {
    findings.push({ code: ViolationCodes.keyNotValid, message: `issuedAt ${iso(p.issuedAt)} is in the future (verifier's clock ${iso(options.now)})` });
  }
  return check('key-window', findings, `issued at ${iso(p.issuedAt)}, inside key ${key.kid}'s window ${window}`);
}

/** What the decision names as its call, in one line (shown with the binding). */
export function describeBinding(signed: SignedArtifact | SignedDenial): string {
  const p = signed.payload;
  const call =
    p.action === 'activity' || p.action === 'local-activity'
      ? `${p.action} ${p.target} (activity id ${p.activityId ?? 'none'})`
      : p.action === 'child-workflow'
        ? `child-workflow ${p.target} (child id ${p.childWorkflowId ?? 'none'})`
        : `${p.action} ${p.target}`;
  const expiry = 'expiresAt' in p && p.expiresAt !== null ? `, expires ${iso(p.expiresAt)}` : '';
  return `${call} on task queue ${p.taskQueue} in ${p.namespace}/${p.workflowId}/${p.runId}, arguments ${p.argsDigest}${expiry}`;
}

/**
 * Binding of a lineage record to its signed decision (lineage.md section 6 steps 1 and 3): the kind
 * members agree, the record holds exactly this signed object, and every searchable copy equals the
 * signed payload. Without a record there are no copies: the binding is what the signature covers.
 */
export function checkBinding(signed: SignedArtifact | SignedDenial, kind: 'artifact' | 'denial', record?: LineageRecord): Check {
  const bound = `bound to ${describeBinding(signed)}`;
  if (!record) return notApplicable('binding', `${bound}; no lineage record to compare: compare the call with Temporal history`);
  const findings: Finding[] = [];
  const held = record.kind === 'artifact' ? record.artifact : record.denial;
  const other = record.kind === 'artifact' ? record.denial : record.artifact;
  if (record.kind !== kind || !held || other !== null) {
    findings.push({ code: ViolationCodes.kindMismatch, message: `kind ${record.kind} must carry ${record.kind === 'artifact' ? 'an artifact and no denial' : 'a denial and no artifact'}` });
  } else if (held !== signed && !same(held, signed)) {
    findings.push({ code: ViolationCodes.fieldMismatch, message: `the lineage record ${record._id} holds a different signed ${kind} than the one verified here` });
  }
  const expected: Record<string, unknown> = recordFields(signed, kind);
  for (const [field, value] of Object.entries(expected)) {
    if (field === 'artifact' || field === 'denial') continue;
    const stored = (record as unknown as Record<string, unknown>)[field];
    if (!same(stored, value)) findings.push({ code: ViolationCodes.fieldMismatch, message: `${field} is ${short(stored)} in the document but ${short(value)} in the signed payload` });
  }
  return check('binding', findings, `${bound}; the record holds this signed ${kind} and every searchable field equals the signed payload`);
}

/** Docs/artifact.md 10.2 steps 11-12: what the issuer guarantees between a decision and its parent grant. */
export function relationProblems(x: SignedArtifact['payload'] | SignedDenial['payload'], p: ArtifactPayload): string[] {
  const problems: string[] = [];
  // A signal or update acts in the run's tree on its sender's authority (docs/identity.md): its
  // principal, credential and roles are the sender's, not the run's.
  const message = x.action === 'signal' || x.action === 'update';
  if ('credential' in x) {
    // Authority only narrows down a chain (docs/identity.md): same credential, roles a subset, and the
    // signed ancestry, key set and chain follow from the parent (docs/artifact.md section 5).
    if (!message && x.credential !== p.credential) problems.push(`credential ${short(x.credential)} differs from the parent's ${short(p.credential)}`);
    const widened = x.roles.filter((role) => !p.roles.includes(role));
    if (!message && widened.length > 0) problems.push(`roles ${short(widened)} are not held by the parent grant ${p.id}`);
    const ancestors = ancestorsBelow(p);
    if (!same(x.ancestors, ancestors)) {
      problems.push(`signed ancestors ${short(x.ancestors)} are not ${isCollapsed(p) ? "the parent's (a continue-as-new hop, listed by its chain id)" : "the parent's plus the parent"}: ${short(ancestors)}`);
    }
    const kids = ancestorKidsBelow(p);
    if (!same(x.ancestorKids, kids)) problems.push(`signed ancestorKids ${short(x.ancestorKids)} are not the parent's set plus the parent's kid, sorted: ${short(kids)}`);
    const chain = chainOf(x.action, x.id, p);
    if (!same(x.chain, chain)) problems.push(`signed chain ${short(x.chain)} does not follow from the parent ${p.action} ${p.id}: expected ${short(chain)}`);
    const tooDeep = x.action === 'child-workflow' ? nestingProblem(x.ancestors) : null;
    if (tooDeep) problems.push(`child-workflow artifact ${x.id}: ${tooDeep}`);
  }
  if (!message && x.principal !== p.principal) problems.push(`principal ${short(x.principal)} differs from the parent's ${short(p.principal)}`);
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

/**
 * Parent link (lineage.md section 6 steps 7-8, artifact.md 10.2 steps 10-12): a root is its own
 * root run grant; otherwise the parent exists, parses, is an earlier grant of the same root whose
 * payload hash is the signed parent.hash, and the decision follows from it.
 */
export function checkParentLink(signed: SignedArtifact | SignedDenial, record: LineageRecord | undefined, link: ParentLink | undefined): Check {
  const findings: Finding[] = [];
  const add = (code: ViolationCode, message: string) => findings.push({ code, message });
  const p = signed.payload;
  const id = record?._id ?? p.id;
  const rootId = record?.rootId ?? rootOf(signed);
  const ancestors = record?.ancestors ?? ('ancestors' in p ? p.ancestors : []);
  const action = record?.action ?? p.action;
  const isArtifact = record ? record.kind === 'artifact' : 'credential' in p;
  const depth = () => {
    if (record && record.depth !== record.ancestors.length) add(ViolationCodes.depthMismatch, `depth ${record.depth} but ${record.ancestors.length} ancestor(s)`);
  };

  const ref = p.parent;
  if (ref === null) {
    if (ancestors.length > 0) add(ViolationCodes.ancestorsMismatch, `a record without parent must have no ancestors, has ${short(ancestors)}`);
    if ('credential' in p) {
      // A root run grant starts the first chain of its tree, signed by no ancestor.
      if (p.ancestors.length > 0) add(ViolationCodes.ancestorsMismatch, `a root artifact must sign no ancestors, signs ${short(p.ancestors)}`);
      if (p.ancestorKids.length > 0) add(ViolationCodes.ancestorsMismatch, `a root artifact must sign no ancestorKids, signs ${short(p.ancestorKids)}`);
      if (p.chain.id !== p.id || p.chain.hop !== 1) add(ViolationCodes.rootMismatch, `a root run grant starts its own chain: chain must be {"id":"${p.id}","hop":1}, is ${short(p.chain)}`);
    }
    if (rootId !== id) add(ViolationCodes.rootMismatch, `a record without parent must be its own root, but its rootId is ${rootId}`);
    else if (isArtifact && action !== 'workflow') add(ViolationCodes.rootMismatch, `a root artifact must be a run grant (action workflow), is ${action}`);
    depth();
    return check('parent-link', findings, isArtifact ? 'no parent: a root run grant, its own root, with no ancestors' : 'no parent: a denial that starts a root of its own, with no ancestors');
  }
  if (!link) {
    depth();
    return findings.length > 0 ? check('parent-link', findings, '') : notApplicable('parent-link', `descends from ${ref.id}, which was not consulted`);
  }
  if (link.state === 'missing') add(ViolationCodes.parentMissing, `parent ${ref.id} has no document`);
  else if (link.state === 'invalid') add(ViolationCodes.parentInvalid, `parent ${ref.id} is not a valid lineage record`);
  else {
    const parent = link.parent;
    for (const problem of link.signatureProblems ?? []) add(ViolationCodes.parentInvalid, `parent ${ref.id}: ${problem.message}`);
    if (parent.rootId !== rootId) add(ViolationCodes.parentOtherRoot, `parent ${ref.id} belongs to root ${parent.rootId}, not ${rootId}`);
    else {
      if (record && parent.seq >= record.seq) add(ViolationCodes.parentAfterChild, `parent ${ref.id} has seq ${parent.seq}, after this record's seq ${record?.seq ?? '?'}`);
      // The parent's ancestors, plus the parent unless it is a continue-as-new hop (artifact.md section 5).
      const collapsed = parent.payload !== null && isCollapsed(parent.payload);
      const expectedAncestors = collapsed ? [...parent.ancestors] : [...parent.ancestors, ref.id];
      if (record && !same(record.ancestors, expectedAncestors)) {
        add(ViolationCodes.ancestorsMismatch, `ancestors ${short(record.ancestors)} should be the parent's ancestors${collapsed ? ' (the parent is a continue-as-new hop)' : ' plus the parent'}: ${short(expectedAncestors)}`);
      }
      if (!parent.payload || !parent.payloadHash) add(ViolationCodes.parentNotGrant, `parent ${ref.id} is a ${parent.kind === 'denial' ? 'denial' : `${parent.action} artifact`}; only grants have children`);
      else {
        if (parent.payloadHash !== ref.hash) add(ViolationCodes.parentHashMismatch, `the signed parent hash ${ref.hash} is not the payload hash of ${ref.id} (${parent.payloadHash})`);
        const problems = relationProblems(p, parent.payload);
        if (problems.length > 0) add(ViolationCodes.parentRelation, problems.join('; '));
      }
    }
  }
  depth();
  const parentAction = link.state === 'found' ? link.parent.action : '';
  return check('parent-link', findings, `descends from the ${parentAction} grant ${ref.id} of the same root: its payload hash is the signed parent hash and principal, namespace, run and ancestry follow from it`);
}

/**
 * Chain link (lineage.md section 6 steps 4 and 6): the record's hash is chainHash of its own link,
 * and its prevHash is the hash of the record before it (GENESIS_HASH for seq 0).
 */
export function checkChainLink(signed: SignedArtifact | SignedDenial, record: LineageRecord | undefined, previous: PreviousLink | undefined): Check {
  if (!record) return notApplicable('chain-link', 'a decision outside a lineage record has no place in a chain');
  const findings: Finding[] = [];
  const add = (code: ViolationCode, message: string) => findings.push({ code, message });
  const r = record;
  // The link hashes the signed object the record holds (a different one given here is the binding's finding).
  const held = (r.kind === 'artifact' ? r.artifact : r.denial) ?? signed;
  const recomputed = chainHash({ rootId: r.rootId, seq: r.seq, prevHash: r.prevHash, parentId: r.parentId, ancestors: r.ancestors, signed: held });
  if (recomputed !== r.hash) add(ViolationCodes.hashMismatch, `hash ${r.hash} is not the hash of this document's link (${recomputed})`);
  const notChecked = (why: string) =>
    findings.length > 0 ? check('chain-link', findings, '') : notApplicable('chain-link', `hash is the hash of this link; its prevHash was not checked: ${why}`);
  if (previous?.state === 'not-checked') return notChecked(previous.why);
  if (r.seq === 0) {
    if (r.prevHash !== GENESIS_HASH) add(ViolationCodes.prevHashMismatch, `seq 0 must have prevHash ${GENESIS_HASH}, has ${r.prevHash}`);
    return check('chain-link', findings, `seq 0 of root ${r.rootId}: prevHash is the genesis hash and hash is the hash of this link`);
  }
  if (!previous) return notChecked('the previous record was not consulted');
  if (previous.state === 'missing') add(ViolationCodes.seqGap, `seq ${r.seq - 1} missing: no record of root ${r.rootId} precedes ${r._id} (seq ${r.seq})`);
  else {
    if (previous.hashProblem) add(ViolationCodes.hashMismatch, `the previous record ${previous.id}: ${previous.hashProblem}`);
    if (previous.hash !== null && r.prevHash !== previous.hash) add(ViolationCodes.prevHashMismatch, `prevHash ${r.prevHash} is not the hash of ${previous.id} (seq ${previous.seq}): ${previous.hash}`);
  }
  const prevId = previous.state === 'found' ? previous.id : '';
  return check('chain-link', findings, `seq ${r.seq} of root ${r.rootId}: hash is the hash of this link and prevHash is the hash of ${prevId} (seq ${r.seq - 1})`);
}

/** The previous record as verifying one record alone sees it: its stored hash, and whether that is the hash of its own link. */
export function previousLinkOf(previous: LineageRecord): PreviousLink {
  const signed = previous.kind === 'artifact' ? previous.artifact : previous.denial;
  const recomputed = signed
    ? chainHash({ rootId: previous.rootId, seq: previous.seq, prevHash: previous.prevHash, parentId: previous.parentId, ancestors: previous.ancestors, signed })
    : null;
  return {
    state: 'found',
    id: previous._id,
    seq: previous.seq,
    hash: previous.hash,
    ...(recomputed === previous.hash ? {} : { hashProblem: `its hash ${previous.hash} is not the hash of its own link (${recomputed ?? 'it holds no signed decision'})` }),
  };
}

const REVOCATION_LABEL: Record<RevocationFact['kind'], string> = { 'signing-key': 'signing key', principal: 'principal', 'api-key': 'API key', authorization: 'authorization' };

/**
 * Revocations (identity.md section 7.1): does any name the artifact, an ancestor, its parent, its
 * chain, the key that signed it or an ancestor, its principal or its API key? A denial grants
 * nothing: none applies.
 */
export function checkRevocations(signed: SignedArtifact | SignedDenial, revocations: readonly RevocationFact[] | undefined): Check {
  if (!('credential' in signed.payload)) return notApplicable('revocations', 'a denial grants nothing, so no revocation can void it');
  if (!revocations) return notApplicable('revocations', 'revocations were not consulted');
  const p = signed.payload;
  const hits = revocations.filter((r) => {
    switch (r.kind) {
      case 'signing-key':
        return r.id === p.kid || p.ancestorKids.includes(r.id);
      case 'principal':
        return r.id === p.principal;
      case 'api-key':
        return r.id === p.credential;
      case 'authorization':
        return r.id === p.id || p.ancestors.includes(r.id) || r.id === p.parent?.id || r.id === p.chain.id;
    }
  });
  const findings = hits.map((r) => {
    const via = (r.kind === 'signing-key' && r.id !== p.kid) || (r.kind === 'authorization' && r.id !== p.id) ? ' (an ancestor)' : '';
    const when = r.at <= p.issuedAt ? 'before this decision was issued' : 'after this decision was issued';
    return { code: ViolationCodes.revoked, message: `${REVOCATION_LABEL[r.kind]} ${r.id}${via} was revoked at ${iso(r.at)}, ${when} (${iso(p.issuedAt)}): ${JSON.stringify(r.reason)}` };
  });
  return check('revocations', findings, `none of the ${revocations.length} revocation(s) consulted names this artifact, its ancestors, parent or chain, their signing keys, principal ${p.principal} or API key ${p.credential}`);
}

/** Every check of one decision, in CHECK_NAMES order. */
export function verifyDecision(input: DecisionInput, trust: TrustBundle, ed: Ed25519, options: DecisionOptions = {}): DecisionVerification {
  const checks = [
    checkSignature(input.signed, trust, ed),
    checkKeyWindow(input.signed, trust, options),
    checkBinding(input.signed, input.kind, input.record),
    checkParentLink(input.signed, input.record, input.parent),
    checkChainLink(input.signed, input.record, input.previous),
    checkRevocations(input.signed, input.revocations),
  ];
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}

/** A lineage record as JSON carries it (the console's API, `lineage show -o json`, `export --format json`): dates as ISO strings. */
export const LineageRecordJsonSchema = LineageRecordSchema.extend({
  issuedAt: z.iso.datetime({ offset: true }).transform((s) => new Date(s)),
  recordedAt: z.iso.datetime({ offset: true }).transform((s) => new Date(s)),
});

/** A pasted or fetched document, recognized. */
export type RecognizedDocument =
  | { readonly ok: true; readonly type: 'artifact'; readonly signed: SignedArtifact }
  | { readonly ok: true; readonly type: 'denial'; readonly signed: SignedDenial }
  | { readonly ok: true; readonly type: 'record'; readonly record: LineageRecord; readonly kind: 'artifact' | 'denial'; readonly signed: SignedArtifact | SignedDenial }
  | { readonly ok: false; readonly problems: readonly string[] };

const issues = (error: z.ZodError) => error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '<root>'}: ${i.message}`);

/**
 * Recognizes an untrusted JSON value as a signed artifact, a signed denial (by `payload.typ`) or a
 * lineage record (JSON form), parsing it with the same strict schemas as everywhere else. Never throws.
 */
export function recognizeDocument(raw: unknown): RecognizedDocument {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, problems: ['expected a JSON object: a signed artifact, a signed denial or a lineage record'] };
  const value = raw as Record<string, unknown>;
  if ('payload' in value) {
    const typ = (value.payload as { typ?: unknown } | null)?.typ;
    if (typ === ARTIFACT_TYPE) {
      const parsed = SignedArtifactSchema.safeParse(raw);
      return parsed.success ? { ok: true, type: 'artifact', signed: parsed.data } : { ok: false, problems: issues(parsed.error) };
    }
    if (typ === DENIAL_TYPE) {
      const parsed = SignedDenialSchema.safeParse(raw);
      return parsed.success ? { ok: true, type: 'denial', signed: parsed.data } : { ok: false, problems: issues(parsed.error) };
    }
    return { ok: false, problems: [`payload.typ must be ${ARTIFACT_TYPE} or ${DENIAL_TYPE}, is ${short(typ)}`] };
  }
  if ('_id' in value) {
    const parsed = LineageRecordJsonSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, problems: issues(parsed.error) };
    const record = parsed.data;
    const signed = record.kind === 'artifact' ? record.artifact : record.denial;
    if (!signed) return { ok: false, problems: [`kind ${record.kind} must carry ${record.kind === 'artifact' ? 'an artifact' : 'a denial'}`] };
    return { ok: true, type: 'record', record, kind: record.kind, signed };
  }
  return { ok: false, problems: ['expected a signed artifact or denial ({payload, signature}) or a lineage record (with _id)'] };
}

/** What verifying one decision alone was told (by a server, a file, the walk): undefined = not consulted. */
export interface StandaloneFacts {
  /** The lineage record that holds the decision. */
  readonly record?: LineageRecord;
  /** The record named by `payload.parent.id`: found, none, or a document that is no valid record. */
  readonly parent?: LineageRecord | 'missing' | { readonly problems: readonly string[] };
  /** The record with `seq - 1` in the record's root, or none. */
  readonly previous?: LineageRecord | 'missing';
  readonly revocations?: readonly RevocationFact[];
}

/** The revocations that could name a decision (identity.md section 7.1), as `<kind>:<id>` (the `revocations` collection's `_id`). */
export function revocationKeys(signed: SignedArtifact | SignedDenial): string[] {
  const p = signed.payload;
  if (!('credential' in p)) return [];
  return [
    ...[p.kid, ...p.ancestorKids].map((kid) => `signing-key:${kid}`),
    `principal:${p.principal}`,
    `api-key:${p.credential}`,
    ...[...new Set([p.id, ...p.ancestors, ...(p.parent ? [p.parent.id] : []), p.chain.id])].map((id) => `authorization:${id}`),
  ];
}

/**
 * Verifies one decision with the facts someone supplied about its neighbours, checking those facts
 * too: the parent must be the record the decision names and its own signature and key window must
 * hold (artifact.md 10.2 step 10); the previous record must be the one before it in the same root,
 * and its stored hash the hash of its own link. The console's API runs this with node:crypto, the
 * browser's proof viewer with @noble/ed25519.
 */
export function verifyStandalone(
  signed: SignedArtifact | SignedDenial,
  kind: 'artifact' | 'denial',
  facts: StandaloneFacts,
  trust: TrustBundle,
  ed: Ed25519,
  options: DecisionOptions = {},
): DecisionVerification {
  const ref = signed.payload.parent;
  let parent: ParentLink | undefined;
  if (ref !== null && facts.parent !== undefined) {
    const given = facts.parent;
    if (given === 'missing') parent = { state: 'missing' };
    else if ('problems' in given) parent = { state: 'invalid', problems: given.problems };
    else {
      const parentSigned = given.kind === 'artifact' ? given.artifact : given.denial;
      if (given._id !== ref.id) parent = { state: 'invalid', problems: [`the record supplied as parent is ${given._id}, not ${ref.id}`] };
      else if (!parentSigned) parent = { state: 'invalid', problems: [`kind ${given.kind} carries no signed decision`] };
      else {
        const own = [checkSignature(parentSigned, trust, ed), checkKeyWindow(parentSigned, trust, options)].flatMap((c) => c.findings);
        parent = { state: 'found', parent: parentInfo(given), signatureProblems: own };
      }
    }
  }
  let previous: PreviousLink | undefined;
  const record = facts.record;
  if (record && record.seq > 0 && facts.previous !== undefined) {
    const given = facts.previous;
    if (given === 'missing') previous = { state: 'missing' };
    else if (given.rootId !== record.rootId || given.seq !== record.seq - 1) {
      previous = { state: 'found', id: given._id, seq: given.seq, hash: given.hash, hashProblem: `it is seq ${given.seq} of root ${given.rootId}, not seq ${record.seq - 1} of root ${record.rootId}` };
    } else previous = previousLinkOf(given);
  }
  return verifyDecision({ signed, kind, record, parent, previous, revocations: facts.revocations }, trust, ed, options);
}
