// How an artifact's `chain`, `ancestors` and `ancestorKids` follow from its parent grant
// (docs/artifact.md section 5). One implementation for the issuer (activities/authorize.ts), the
// lineage store (a denial's materialized ancestors) and the verifiers (src/lineage/verify-record.ts).
// Pure and sandbox-safe.
//
// A continue-as-new hop is the same authority as the run it continues, not a new level: the hops of
// a chain share `chain.id` (the first run's grant), and only levels of nesting enter `ancestors`. So
// an artifact's size depends on how deeply child workflows nest (capped, MAX_NESTING_DEPTH), never
// on how many times a run continued as new. The signed `parent` links still walk every hop.
import { MAX_NESTING_DEPTH } from '../common/constants';
import type { Action, ArtifactPayload, ChainRef } from '../common/schemas';

/** What the derivation reads of a parent grant. */
export type AncestryParent = Pick<ArtifactPayload, 'id' | 'kid' | 'action' | 'chain' | 'ancestors' | 'ancestorKids'>;

/**
 * True when the grant is a continue-as-new hop of its chain (a continued run's grant, or any
 * continue-as-new artifact): its children list its chain's id instead of it. Revoking such a grant
 * means revoking its chain id (src/identity/revoke-authorization.ts).
 */
export function isCollapsed(grant: Pick<ArtifactPayload, 'id' | 'action' | 'chain'>): boolean {
  return (grant.action === 'workflow' || grant.action === 'continue-as-new') && grant.chain.id !== grant.id;
}

/** `ancestors` of anything whose parent is `parent`: the parent's, plus the parent unless it is a collapsed hop. */
export function ancestorsBelow(parent: Pick<ArtifactPayload, 'id' | 'action' | 'chain' | 'ancestors'>): string[] {
  return isCollapsed(parent) ? [...parent.ancestors] : [...parent.ancestors, parent.id];
}

/** `ancestorKids` of anything whose parent is `parent`: the parent's set plus the parent's kid, distinct, sorted by code unit. */
export function ancestorKidsBelow(parent: Pick<ArtifactPayload, 'kid' | 'ancestorKids'>): string[] {
  return [...new Set([...parent.ancestorKids, parent.kid])].sort(compareCodeUnits);
}

/**
 * `chain` of an artifact with this action, id and parent:
 * - a run grant with no parent (a root run) or admitted on a child-workflow artifact starts a chain: `{ id, hop: 1 }`;
 * - a run grant admitted on a continue-as-new artifact continues its chain: `{ parent.chain.id, parent.chain.hop + 1 }`;
 * - anything else (its parent is its run's grant) carries the parent's chain.
 */
export function chainOf(action: Action, id: string, parent: Pick<ArtifactPayload, 'action' | 'chain'> | null): ChainRef {
  if (parent === null || (action === 'workflow' && parent.action === 'child-workflow')) return { id, hop: 1 };
  if (action === 'workflow' && parent.action === 'continue-as-new') return { id: parent.chain.id, hop: parent.chain.hop + 1 };
  return { id: parent.chain.id, hop: parent.chain.hop };
}

/**
 * Level of nesting of the run a child-workflow artifact with these `ancestors` would start: its
 * ancestors are its run's scope path plus its run's chain id (2m + 1 ids at level m), so the child
 * is at level m + 1.
 */
export function childNestingLevel(childWorkflowAncestors: readonly string[]): number {
  // Rounded up: a list of the wrong parity (not what the issuer signs) counts as the deeper level.
  return Math.ceil((childWorkflowAncestors.length + 1) / 2);
}

/** Why a child-workflow artifact with these ancestors may not be issued (its child would nest too deep), or null. */
export function nestingProblem(childWorkflowAncestors: readonly string[], maxNestingDepth = MAX_NESTING_DEPTH): string | null {
  const level = childNestingLevel(childWorkflowAncestors);
  return level > maxNestingDepth
    ? `the child would run at nesting level ${level}, deeper than the maximum of ${maxNestingDepth} levels of child workflows below the root`
    : null;
}

/** Sort by UTF-16 code units (JavaScript's default string order), independent of locale. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
