// Section 3: Ed25519 sign/verify, node:crypto vs @noble/ed25519, on the bytes governance really
// signs: the signing input of a per-call artifact issued by the real authorizer (createAuthorizer),
// plus full verifyArtifactForCall (schema parse + key window + signature + binding) with each.
import { randomUUID } from 'node:crypto';
import { createAuthorizer } from '../activities/authorize';
import { signingInput, verifyArtifactForCall, type ActivityCall, type Ed25519 } from '../src/artifact/artifact';
import { fromBase64Url } from '../src/common/base64url';
import { argumentsDigest, argumentsView } from '../src/common/digest';
import type { AuthorizationRequest, AuthorizationResult, SignedArtifact } from '../src/common/schemas';
import { loadSigningKey, loadTrustBundle } from '../src/crypto/keys';
import { nobleEd25519 } from '../src/crypto/noble';
import { nodeEd25519 } from '../src/crypto/node';
import { generateApiKey, parseApiKey, signStartProof } from '../src/identity/api-key';
import { identitySnapshot } from '../src/identity/snapshot';
import { loadPolicyFile } from '../src/policy/load';
import { BENCH_POLICY_PATH, BENCH_PRINCIPAL, BENCH_ROLES, type BenchKeys } from './latency';
import { honestContext } from '../test/helpers/call-context';
import { ratio, table, timeBox, type Rate } from './util';

export interface CryptoResult {
  readonly inputBytes: number;
  readonly rows: { name: string; node: Rate; noble: Rate }[];
}

function expectAllow(result: AuthorizationResult, what: string): SignedArtifact {
  if (result.decision !== 'allow') throw new Error(`bench authorizer denied the ${what}: ${result.denial.payload.code} ${result.denial.payload.reason}`);
  return result.artifact;
}

export async function runCrypto(keys: BenchKeys, timeBoxMs: number): Promise<CryptoResult> {
  const signingKey = loadSigningKey(keys.keyPath);
  const trust = loadTrustBundle(keys.bundlePath);
  const trusted = trust.keys.get(signingKey.kid);
  if (!trusted) throw new Error('bench signing key missing from its trust bundle');
  const policy = loadPolicyFile(BENCH_POLICY_PATH);
  // Identity as the governance worker holds it: one principal, its API key's public half, no revocations.
  const generated = generateApiKey();
  const apiKey = parseApiKey(generated.apiKey);
  const created = new Date();
  const snapshot = identitySnapshot(
    {
      principals: [{ _id: BENCH_PRINCIPAL, roles: BENCH_ROLES, description: null, createdAt: created }],
      apiKeys: [{ _id: generated.keyId, principal: BENCH_PRINCIPAL, publicKey: generated.publicKey, roles: null, createdAt: created, expiresAt: null }],
      revocations: [],
    },
    Number.MAX_SAFE_INTEGER, // never stale: this section measures crypto, not MongoDB
  );
  const startProofs = { claim: async () => 'claimed' as const, claimGrant: async () => 'claimed' as const, claimMessage: async () => 'claimed' as const, find: async () => null, runGrant: async (_run: unknown, grant: { grantId: string; scheduling: string }) => grant };
  const authorizerWith = (ed25519: Ed25519) =>
    createAuthorizer({
      policy,
      signingKey,
      trustBundle: () => trust,
      identity: async () => snapshot,
      startProofs,
      ed25519,
      issuer: 'temporal-governance@bench-host',
      artifactTtlMs: 5 * 60_000,
    });
  const authorize = { node: authorizerWith(nodeEd25519), noble: authorizerWith(nobleEd25519) };

  // A realistic run: root grant for the workflow, then a per-call artifact for one activity of it.
  const workflow = {
    namespace: 'default',
    workflowId: `order-fulfilment-${randomUUID()}`,
    runId: randomUUID(),
    workflowType: 'benchSequential',
    taskQueue: 'orders-production',
    parent: null,
    continuedFromRunId: null,
    firstExecutionRunId: '',
    startedAt: Date.now(),
  };
  workflow.firstExecutionRunId = workflow.runId;
  const request = (action: 'workflow' | 'activity', args: unknown[], parent: unknown, activityId: string | null): AuthorizationRequest => ({
    v: 2,
    action,
    target: action === 'workflow' ? workflow.workflowType : 'stamp',
    activityId,
    childWorkflowId: null,
    messageId: null,
    taskQueue: workflow.taskQueue,
    args: argumentsView(args),
    argsDigest: argumentsDigest(args),
    workflow,
    proof:
      action === 'workflow'
        ? signStartProof(apiKey, { namespace: workflow.namespace, workflowId: workflow.workflowId, workflowType: workflow.workflowType, taskQueue: workflow.taskQueue, argsDigest: argumentsDigest(args) })
        : null,
    delegateRoles: null,
    parent,
  });
  // The server's facts about the calling run (activity info; the run's start is read only for run grants).
  const grantRequest = request('workflow', [200], null, null);
  const grant = expectAllow(await authorize.node(grantRequest, honestContext(grantRequest)), 'run grant');
  const callRequest = request('activity', [42], grant, '43');
  const callContext = honestContext(callRequest);
  const artifact = expectAllow(await authorize.node(callRequest, callContext), 'activity call');
  const message = signingInput(artifact.payload);
  const signature = fromBase64Url(artifact.signature);

  // Both implementations must agree bit for bit (Ed25519 signatures are deterministic).
  const nodeSig = nodeEd25519.sign(message, signingKey.seed);
  const nobleSig = nobleEd25519.sign(message, signingKey.seed);
  if (Buffer.compare(Buffer.from(nodeSig), Buffer.from(nobleSig)) !== 0) throw new Error('node:crypto and @noble/ed25519 produced different signatures');
  if (!nodeEd25519.verify(nobleSig, message, trusted) || !nobleEd25519.verify(nodeSig, message, trusted)) {
    throw new Error('cross-verification between node:crypto and @noble/ed25519 failed');
  }

  const p = artifact.payload;
  const call: ActivityCall = {
    namespace: p.namespace,
    workflowId: p.workflowId,
    runId: p.runId,
    activityId: p.activityId!,
    activityType: p.target,
    taskQueue: p.taskQueue,
    isLocal: false,
    argsDigest: p.argsDigest,
    attempt: 1,
    scheduledTimestampMs: p.issuedAt,
  };
  const now = p.issuedAt + 1_000;
  // The enforcement point decodes the header afresh for every call: give it an undecorated copy.
  const raw: unknown = JSON.parse(JSON.stringify(artifact));
  for (const ed of [nodeEd25519, nobleEd25519]) {
    const check = verifyArtifactForCall(raw, call, trust, now, ed);
    if (!check.ok) throw new Error(`verifyArtifactForCall rejected a fresh artifact: ${check.code} ${check.reason}`);
  }

  const both = (name: string, run: (ed: Ed25519, which: 'node' | 'noble') => (i: number) => unknown) => ({
    name,
    node: timeBox(run(nodeEd25519, 'node'), timeBoxMs),
    noble: timeBox(run(nobleEd25519, 'noble'), timeBoxMs),
  });
  const rows = [
    both('Ed25519 sign', (ed) => () => ed.sign(message, signingKey.seed)),
    both('Ed25519 verify', (ed) => () => {
      if (!ed.verify(signature, message, trusted)) throw new Error('verification failed during the benchmark');
    }),
    both('verifyArtifactForCall', (ed) => () => {
      if (!verifyArtifactForCall(raw, call, trust, now, ed).ok) throw new Error('verifyArtifactForCall failed during the benchmark');
    }),
  ];

  // The governance worker's CPU cost of one per-call decision (request parse, digest check, parent
  // grant verification, policy evaluation, signing). The authorizer is async by signature only;
  // awaiting each call adds a microtask hop, which the real activity pays too.
  const authorizeRate = async (which: 'node' | 'noble'): Promise<Rate> => {
    const fn = authorize[which];
    const warmUntil = performance.now() + Math.max(50, timeBoxMs / 5);
    while (performance.now() < warmUntil) await fn(callRequest, callContext);
    let ops = 0;
    const start = performance.now();
    const deadline = start + timeBoxMs;
    while (performance.now() < deadline) {
      if ((await fn(callRequest, callContext)).decision !== 'allow') throw new Error('authorizer denied during the benchmark');
      ops += 1;
    }
    const seconds = (performance.now() - start) / 1000;
    return { ops, seconds, opsPerSec: ops / seconds, meanUs: (seconds * 1e6) / ops };
  };
  rows.push({ name: 'authorize (per-call decision)', node: await authorizeRate('node'), noble: await authorizeRate('noble') });

  return { inputBytes: message.length, rows };
}

export function cryptoTable(result: CryptoResult): string {
  return table(
    `Ed25519: node:crypto vs @noble/ed25519 (signing input of a real per-call artifact, ${result.inputBytes} bytes)`,
    ['operation', 'node ops/s', 'node µs/op', 'noble ops/s', 'noble µs/op', 'node/noble'],
    result.rows.map((r) => [r.name, r.node.opsPerSec, r.node.meanUs, r.noble.opsPerSec, r.noble.meanUs, ratio(r.node.opsPerSec, r.noble.opsPerSec)]),
    [
      'Signatures are identical bit for bit and cross-verify (checked before timing).',
      'verifyArtifactForCall = schema parse + key validity + signature + binding and expiry checks, as the enforcement point runs it.',
      'authorize = the governance worker\'s whole per-call decision (parse, digest, parent-grant verify, policy, sign), in process.',
    ],
  );
}
