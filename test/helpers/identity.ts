// In-memory identity for tests that call the authorizer directly: principals, API keys, revocations
// and the start-proof registry, with the same documents the MongoDB store holds.
import type { StartProofRegistry } from '../../activities/authorize';
import { generateApiKey, parseApiKey, signStartProof, type ParsedApiKey } from '../../src/identity/api-key';
import type { ApiKeyDocument, PrincipalDocument, RevocationDocument, RevocationKind, SignedStartProof } from '../../src/identity/schema';
import { identitySnapshot, type IdentitySnapshot } from '../../src/identity/snapshot';

export interface MemoryIdentity {
  readonly principals: PrincipalDocument[];
  readonly apiKeys: ApiKeyDocument[];
  readonly revocations: RevocationDocument[];
  readonly startProofs: StartProofRegistry;
  /** A snapshot read at clock(). */
  snapshot(): IdentitySnapshot;
  /** The (first) API key of a principal, created on first use; unregistered when `registered` is false. */
  keyOf(principal: string, options?: { roles?: string[] | null; expiresAt?: number | null; registered?: boolean }): ParsedApiKey;
  proof(principal: string, start: { namespace: string; workflowId: string; workflowType: string; taskQueue?: string; argsDigest: string }, issuedAt?: number): SignedStartProof;
  revoke(kind: RevocationKind, id: string): void;
  /** Forgets which run grant each run holds (tests that reuse run ids). */
  forgetRunGrants(): void;
}

export function memoryIdentity(roles: Record<string, string[]>, clock: () => number): MemoryIdentity {
  const created = new Date(0);
  const principals: PrincipalDocument[] = Object.entries(roles).map(([id, r]) => ({ _id: id, roles: r, description: null, createdAt: created }));
  const apiKeys: ApiKeyDocument[] = [];
  const revocations: RevocationDocument[] = [];
  const keys = new Map<string, ParsedApiKey>();
  const claims = new Map<string, { firstExecutionRunId: string; workflowId: string }>();
  const runGrants = new Map<string, { grantId: string; scheduling: string }>();
  const identity: MemoryIdentity = {
    principals,
    apiKeys,
    revocations,
    startProofs: {
      async claim(c) {
        const stored = claims.get(c.proofId);
        if (!stored) {
          claims.set(c.proofId, { firstExecutionRunId: c.firstExecutionRunId, workflowId: c.workflowId });
          return 'claimed';
        }
        return stored.firstExecutionRunId === c.firstExecutionRunId && stored.workflowId === c.workflowId ? 'same' : 'replayed';
      },
      async find(proofId) {
        return claims.get(proofId) ?? null;
      },
      async claimMessage(c) {
        const key = `message:${c._id}`;
        const stored = claims.get(key);
        const claimant = `${c.workflowId}/${c.runId}/${c.messageId}`;
        if (!stored) {
          claims.set(key, { firstExecutionRunId: claimant, workflowId: c.workflowId });
          return 'claimed';
        }
        return stored.firstExecutionRunId === claimant ? 'same' : 'replayed';
      },
      async claimGrant(c) {
        const key = `grant:${c.proofId}`;
        const stored = claims.get(key);
        if (!stored) {
          claims.set(key, { firstExecutionRunId: c.firstExecutionRunId, workflowId: c.workflowId });
          return 'claimed';
        }
        return stored.firstExecutionRunId === c.firstExecutionRunId && stored.workflowId === c.workflowId ? 'same' : 'replayed';
      },
      async runGrant(run, grant) {
        const key = `${run.namespace}/${run.workflowId}/${run.runId}`;
        if (!runGrants.has(key)) runGrants.set(key, grant);
        return runGrants.get(key)!;
      },
    },
    snapshot: () => identitySnapshot({ principals, apiKeys, revocations }, clock()),
    keyOf(principal, options = {}) {
      const cacheKey = `${principal}:${JSON.stringify(options)}`;
      let key = keys.get(cacheKey);
      if (!key) {
        const generated = generateApiKey();
        key = parseApiKey(generated.apiKey);
        keys.set(cacheKey, key);
        if (options.registered !== false) {
          apiKeys.push({
            _id: generated.keyId,
            principal,
            publicKey: generated.publicKey,
            roles: options.roles ?? null,
            createdAt: created,
            expiresAt: options.expiresAt == null ? null : new Date(options.expiresAt),
          });
        }
      }
      return key;
    },
    proof(principal, start, issuedAt = clock()) {
      return signStartProof(identity.keyOf(principal), { taskQueue: 'payments', ...start }, issuedAt);
    },
    forgetRunGrants() {
      runGrants.clear();
    },
    revoke(kind, id) {
      revocations.push({ _id: `${kind}:${id}`, kind, id, reason: 'test', at: new Date(clock()) });
    },
  };
  return identity;
}
