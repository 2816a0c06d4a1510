// What a governance process knows about the decisions it signed itself, so the persist
// running beside it needs neither the outbox read nor a second signature check for them.
import type { SignedArtifact, SignedDenial } from '../common/schemas';

/** A decision this process signed and wrote to the outbox. */
export interface OwnDecision {
  readonly kind: 'artifact' | 'denial';
  readonly signed: SignedArtifact | SignedDenial;
}

/**
 * Process memory, as trusted as the signing key beside it: an entry is added only after the
 * decision's outbox insert succeeded, so it says nothing the outbox does not also hold. A persist
 * attempt on another process (or after a restart) finds nothing here and reads the outbox, exactly
 * as before; this only saves reads. Both maps are bounded (oldest out first): a decision evicted
 * before it is chained is read from the outbox, and a chained id that is forgotten is looked up.
 */
export class RecentDecisions {
  private readonly unchained = new Map<string, OwnDecision & { readonly rootId: string }>();
  /** Chained ids -> their root, and whether they are allowed per-call decisions (what outcomes may name). */
  private readonly chained = new Map<string, { readonly rootId: string; readonly call: boolean }>();

  constructor(
    private readonly maxUnchained = DEFAULT_MAX_UNCHAINED,
    private readonly maxChained = DEFAULT_MAX_CHAINED,
  ) {}

  /** After the decision's outbox insert succeeded, never before. */
  wrote(rootId: string, decision: OwnDecision): void {
    const id = decision.signed.payload.id;
    this.unchained.delete(id);
    this.unchained.set(id, { rootId, ...decision });
    if (this.unchained.size > this.maxUnchained) this.unchained.delete(this.unchained.keys().next().value!);
  }

  /** The decision with this id of this root, if this process signed it and it is not chained yet. */
  own(rootId: string, id: string): OwnDecision | undefined {
    const d = this.unchained.get(id);
    return d && d.rootId === rootId ? d : undefined;
  }

  /** Whether this process chained the decision under this root. */
  isChained(rootId: string, id: string): boolean {
    return this.chained.get(id)?.rootId === rootId;
  }

  /** Whether this process chained it under this root as an allowed per-call decision. */
  isChainedCall(rootId: string, id: string): boolean {
    const c = this.chained.get(id);
    return !!c && c.rootId === rootId && c.call;
  }

  /** After the decisions are in the root's chain (and their outbox entries cleared). */
  markChained(rootId: string, decisions: ReadonlyArray<{ readonly id: string; readonly call: boolean }>): void {
    for (const { id, call } of decisions) {
      this.unchained.delete(id);
      this.chained.delete(id);
      this.chained.set(id, { rootId, call });
    }
    while (this.chained.size > this.maxChained) this.chained.delete(this.chained.keys().next().value!);
  }

  get size(): { unchained: number; chained: number } {
    return { unchained: this.unchained.size, chained: this.chained.size };
  }
}

/** About a minute of decisions at 100 a second, a few KB each (tens of MB at most). */
export const DEFAULT_MAX_UNCHAINED = 5_000;
/** Ids only (about 150 bytes each): parents and outcome calls of the last minutes. */
export const DEFAULT_MAX_CHAINED = 20_000;
