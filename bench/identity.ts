// Section: the cost of identity. CPU (in process): the client's start proof, its verification by
// governance, a whole root-grant decision next to a per-call one, and the enforcement point's
// revocation check. MongoDB (real server): one identity refresh and one single-use proof claim.
import { randomUUID } from 'node:crypto';
import { createAuthorizer } from '../activities/authorize';
import type { SigningKey } from '../src/artifact/artifact';
import { argumentsDigest, argumentsView } from '../src/common/digest';
import type { AuthorizationRequest, SignedArtifact } from '../src/common/schemas';
import { loadSigningKey, loadTrustBundle } from '../src/crypto/keys';
import { nodeEd25519 } from '../src/crypto/node';
import { generateApiKey, parseApiKey, signStartProof } from '../src/identity/api-key';
import { verifyStartProof } from '../src/identity/proof';
import type { ApiKeyDocument, PrincipalDocument, RevocationDocument } from '../src/identity/schema';
import { identitySnapshot, revocationProblem, stalenessProblem } from '../src/identity/snapshot';
import { claimArtifact, claimStartProof, loadIdentitySnapshot } from '../src/identity/store';
import { connectLineage } from '../src/lineage/store';
import { loadPolicyFile } from '../src/policy/load';
import { BENCH_POLICY_PATH, BENCH_PRINCIPAL, BENCH_ROLES, type BenchKeys } from './latency';
import { honestContext } from '../test/helpers/call-context';
import { summarize, table, timeBox, type Rate, type Summary } from './util';

/** Identity state of a mid-sized deployment: every lookup and check runs against this much. */
const PRINCIPALS = 200;
const KEYS = 1_000;
const REVOCATIONS = 1_000;

function identityDocuments(benchKey: { keyId: string; publicKey: string }) {
  const created = new Date();
  const principals: PrincipalDocument[] = Array.from({ length: PRINCIPALS }, (_, i) => ({ _id: i === 0 ? BENCH_PRINCIPAL : `p${i}`, roles: BENCH_ROLES, description: null, createdAt: created }));
  const apiKeys: ApiKeyDocument[] = Array.from({ length: KEYS }, (_, i) => {
    const k = i === 0 ? benchKey : generateApiKey();
    return { _id: k.keyId, principal: principals[i % PRINCIPALS]!._id, publicKey: k.publicKey, roles: null, createdAt: created, expiresAt: null };
  });
  const kinds = ['authorization', 'api-key', 'principal', 'signing-key'] as const;
  const revocations: RevocationDocument[] = Array.from({ length: REVOCATIONS }, (_, i) => {
    const kind = kinds[i % kinds.length]!;
    const id = `${kind === 'authorization' ? 'art_' : 'x_'}${i}`;
    return { _id: `${kind}:${id}`, kind, id, reason: 'bench', at: created };
  });
  return { principals, apiKeys, revocations };
}

export interface IdentityCpuResult {
  readonly rows: { name: string; rate: Rate }[];
}

export async function runIdentityCpu(keys: BenchKeys, timeBoxMs: number): Promise<IdentityCpuResult> {
  const signingKey: SigningKey = loadSigningKey(keys.keyPath);
  const trust = loadTrustBundle(keys.bundlePath);
  const generated = generateApiKey();
  const apiKey = parseApiKey(generated.apiKey);
  const snapshot = identitySnapshot(identityDocuments(generated), Number.MAX_SAFE_INTEGER);
  const authorize = createAuthorizer({
    policy: loadPolicyFile(BENCH_POLICY_PATH),
    signingKey,
    trustBundle: () => trust,
    identity: async () => snapshot,
    startProofs: { claim: async () => 'claimed', claimGrant: async () => 'claimed', claimMessage: async () => 'claimed', find: async () => null, runGrant: async (_run, grant) => grant },
    ed25519: nodeEd25519,
    issuer: 'temporal-governance@bench-host',
    artifactTtlMs: 5 * 60_000,
  });
  const runId = randomUUID();
  const workflow = { namespace: 'default', workflowId: `order-${randomUUID()}`, runId, workflowType: 'benchSequential', taskQueue: 'orders', parent: null, continuedFromRunId: null, firstExecutionRunId: runId, startedAt: Date.now() };
  const start = { namespace: workflow.namespace, workflowId: workflow.workflowId, workflowType: workflow.workflowType, taskQueue: workflow.taskQueue, argsDigest: argumentsDigest([200]) };
  const request = (action: 'workflow' | 'activity', args: unknown[], parent: unknown, proof: unknown): AuthorizationRequest => ({
    v: 2,
    action,
    target: action === 'workflow' ? workflow.workflowType : 'stamp',
    activityId: action === 'workflow' ? null : '43',
    childWorkflowId: null,
    messageId: null,
    taskQueue: workflow.taskQueue,
    args: argumentsView(args),
    argsDigest: argumentsDigest(args),
    workflow,
    proof,
    delegateRoles: null,
    parent,
  });
  const proof = signStartProof(apiKey, start);
  const recorded = { ...start, startedAt: workflow.startedAt };
  const checks = { maxAgeMs: 3_600_000, skewMs: 5_000, checkAge: true };
  const rootRequest = request('workflow', [200], null, proof);
  // The server's facts about the calling run; for the root grant the run's start is served from
  // memory, as the governance worker's per-run cache does after its one history read.
  const rootContext = honestContext(rootRequest);
  const root = await authorize(rootRequest, rootContext);
  if (root.decision !== 'allow') throw new Error(`bench root grant denied: ${root.denial.payload.code}`);
  const callRequest = request('activity', [42], root.artifact, null);
  const callContext = honestContext(callRequest);
  const call = await authorize(callRequest, callContext);
  if (call.decision !== 'allow') throw new Error(`bench call denied: ${call.denial.payload.code}`);
  const artifact: SignedArtifact = call.artifact;

  const asyncRate = async (fn: () => Promise<unknown>): Promise<Rate> => {
    const warmUntil = performance.now() + Math.max(50, timeBoxMs / 5);
    while (performance.now() < warmUntil) await fn();
    let ops = 0;
    const t0 = performance.now();
    while (performance.now() < t0 + timeBoxMs) {
      await fn();
      ops += 1;
    }
    const seconds = (performance.now() - t0) / 1000;
    return { ops, seconds, opsPerSec: ops / seconds, meanUs: (seconds * 1e6) / ops };
  };
  const rows = [
    { name: 'client: sign a start proof', rate: timeBox(() => signStartProof(apiKey, start), timeBoxMs) },
    {
      name: 'governance: verify a start proof',
      rate: timeBox(() => {
        if ('code' in verifyStartProof(proof, recorded, snapshot, recorded.startedAt, nodeEd25519, checks)) throw new Error('proof refused during the benchmark');
      }, timeBoxMs),
    },
    { name: 'governance: whole root-grant decision', rate: await asyncRate(() => authorize(rootRequest, rootContext)) },
    { name: 'governance: whole per-call decision', rate: await asyncRate(() => authorize(callRequest, callContext)) },
    {
      name: 'enforcement: staleness + revocation check',
      rate: timeBox(() => {
        if (stalenessProblem(snapshot, Date.now(), 5_000) ?? revocationProblem(artifact.payload, snapshot)) throw new Error('revoked during the benchmark');
      }, timeBoxMs),
    },
  ];
  return { rows };
}

export function identityCpuTable(result: IdentityCpuResult): string {
  return table(
    `Identity (CPU, node:crypto; ${PRINCIPALS} principals, ${KEYS} API keys, ${REVOCATIONS} revocations in the snapshot)`,
    ['operation', 'ops/s', 'µs/op'],
    result.rows.map((r) => [r.name, r.rate.opsPerSec, r.rate.meanUs]),
    [
      'Root grant = proof verification + principal/key state + single-use claim (in memory here) + policy + signing.',
      'Per root grant the identity cost is the proof (sign on the client, verify in governance) and one MongoDB claim (below);',
      'per activity it is the revocation check, at governance and again at the enforcement point.',
    ],
  );
}

export interface IdentityStoreResult {
  readonly refreshMs: Summary;
  readonly claimMs: Summary;
  readonly artifactClaimMs: Summary;
  readonly artifactRepeatMs: Summary;
}

/** One identity refresh (what every worker does each refreshMs) and one proof claim (per root grant), on the real server. */
export async function runIdentityStore(mongoUri: string): Promise<IdentityStoreResult> {
  const { client, db } = await connectLineage(mongoUri, `bench_identity_${Date.now().toString(36)}`);
  try {
    const docs = identityDocuments(generateApiKey());
    await db.collection('principals').insertMany(docs.principals as never[]);
    await db.collection('api_keys').insertMany(docs.apiKeys as never[]);
    await db.collection('revocations').insertMany(docs.revocations as never[]);
    const refresh: number[] = [];
    for (let i = 0; i < 25; i++) {
      const t0 = performance.now();
      await loadIdentitySnapshot(db);
      if (i >= 5) refresh.push(performance.now() - t0);
    }
    const claims: number[] = [];
    for (let i = 0; i < 120; i++) {
      const t0 = performance.now();
      await claimStartProof(db, { proofId: `sha256:${i.toString(16).padStart(64, '0')}`, firstExecutionRunId: randomUUID(), workflowId: `wf-${i}` });
      if (i >= 20) claims.push(performance.now() - t0);
    }
    // The enforcement point's single-use claim: one insert per protected call; a retry of the same
    // scheduling (or a replay) adds one read.
    const artifactClaims: number[] = [];
    const repeats: number[] = [];
    for (let i = 0; i < 120; i++) {
      const claim = { _id: `art_${i.toString(16).padStart(32, '0')}`, scheduledAt: 1_700_000_000_000 + i, workflowId: `wf-${i}`, runId: randomUUID(), activityId: '1' };
      let t0 = performance.now();
      await claimArtifact(db, claim);
      if (i >= 20) artifactClaims.push(performance.now() - t0);
      t0 = performance.now();
      if ((await claimArtifact(db, claim)) !== 'same') throw new Error('a retried scheduling must be the same claim');
      if (i >= 20) repeats.push(performance.now() - t0);
    }
    await db.dropDatabase();
    return { refreshMs: summarize(refresh), claimMs: summarize(claims), artifactClaimMs: summarize(artifactClaims), artifactRepeatMs: summarize(repeats) };
  } finally {
    await client.close();
  }
}

export function identityStoreTable(result: IdentityStoreResult): string {
  return table(
    `Identity in MongoDB (the MongoDB-wire server of this run; ${PRINCIPALS} principals, ${KEYS} keys, ${REVOCATIONS} revocations)`,
    ['operation', 'p50 ms', 'p95 ms', 'mean ms'],
    [
      ['identity refresh (every worker, each refreshMs)', result.refreshMs.p50, result.refreshMs.p95, result.refreshMs.mean],
      ['single-use proof claim (per root grant)', result.claimMs.p50, result.claimMs.p95, result.claimMs.mean],
      ['single-use artifact claim (per protected call, enforcement point)', result.artifactClaimMs.p50, result.artifactClaimMs.p95, result.artifactClaimMs.mean],
      ['same claim again (a retry of that scheduling)', result.artifactRepeatMs.p50, result.artifactRepeatMs.p95, result.artifactRepeatMs.mean],
    ],
  );
}
