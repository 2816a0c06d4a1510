// Generates docs/test-vectors/artifact-v3.json and denial-v2.json with OUR implementation and a
// PUBLISHED TEST KEY (seed = bytes 0x00..0x1f). Ed25519 is deterministic and every input below is
// fixed, so running this again reproduces the files byte for byte:
//
//   npx ts-node --transpile-only docs/test-vectors/generate.ts          # writes the files
//   npx ts-node --transpile-only docs/test-vectors/generate.ts --check  # fails if they differ
//
// test/unit/artifact-vector.test.ts verifies the files independently of this code.
//
// Version 2 (typ ...@2): the binding has `taskQueue`, and the namespace, workflow id, run id and
// workflow type it names are the Temporal server's record of the caller (CallerFacts), which is
// also what the decision ids derive from.
// Version 3 (typ ...artifact@3): artifacts carry `chain`, and `ancestors` / `ancestorKids` follow the
// bounded rules of docs/artifact.md section 5. The denial layout is unchanged (typ ...denial@2); its
// vector changes only because its parent (the run grant) does.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { decisionIdFor } from '../../activities/authorize';
import type { CallerFacts } from '../../activities/caller';
import { payloadHash, signArtifact, signDenial, signingInput, verifySignedArtifact, type SigningKey } from '../../src/artifact/artifact';
import { parseTrustBundle } from '../../src/artifact/trust-bundle';
import { toBase64Url } from '../../src/common/base64url';
import { canonicalize } from '../../src/common/canonical';
import { DENIAL_TYPE, ARTIFACT_TYPE, type ArtifactPayload, type AuthorizationRequest, type DenialPayload } from '../../src/common/schemas';
import { argumentsDigest, argumentsView } from '../../src/common/digest';
import { nobleEd25519 } from '../../src/crypto/noble';
import { nodeEd25519 } from '../../src/crypto/node';
import { evaluatePolicy } from '../../src/policy/evaluate';
import { parsePolicyText } from '../../src/policy/load';

const OUT_DIR = __dirname;

// ---- The published test key. NEVER use it for anything but these vectors. ----
const SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
const KID = 'test-vector-key-1-DO-NOT-USE';
const ISSUER = 'temporal-governance@test-vector';

function publicKeyOf(seed: Uint8Array): Uint8Array {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

const PUBLIC_KEY = publicKeyOf(SEED);
const signingKey: SigningKey = { kid: KID, seed: SEED };

const trustBundleDocument = {
  typ: 'temporal-governance/trust-bundle@1',
  keys: [{ kid: KID, kty: 'OKP', crv: 'Ed25519', x: toBase64Url(PUBLIC_KEY), notBefore: '2025-01-01T00:00:00.000Z', notAfter: null }],
};
const trustBundle = parseTrustBundle(trustBundleDocument, 'test vector');

// ---- The policy the example decisions cite (only its id and content-hash version are signed). ----
const POLICY_YAML = `id: payments
exempt:
  activities: [lookupExchangeRate]
rules:
  - id: payments-workflows
    effect: allow
    when: { actions: [workflow, child-workflow, continue-as-new], targets: ['pay*'], roles: [payments-operator] }
  - id: charge-within-limit
    effect: allow
    when:
      actions: [activity]
      targets: [chargeCard]
      roles: [payments-operator]
      args: [{ field: amount, op: lte, value: 10000 }]
  - id: charge-over-limit
    effect: deny
    code: AMOUNT_OVER_LIMIT
    reason: a single charge above 10,000 needs a second approver
    when: { targets: [chargeCard], args: [{ field: amount, op: gt, value: 10000 }] }
`;
const policy = parsePolicyText(POLICY_YAML, 'test vector policy');

// ---- The workflow run everything below is bound to. ----
const workflow = {
  namespace: 'default',
  workflowId: 'pay-order-42',
  runId: '01957e2a-3b1c-7d4e-9f00-000000000042',
  workflowType: 'payOrder',
  taskQueue: 'payments',
  parent: null,
  continuedFromRunId: null,
  firstExecutionRunId: '01957e2a-3b1c-7d4e-9f00-000000000042',
  startedAt: Date.parse('2025-03-01T12:00:00.000Z'),
};
/** The calling run as the server set it in the authorization activity's info (not the request's claim). */
const caller: CallerFacts = {
  namespace: workflow.namespace,
  workflowId: workflow.workflowId,
  runId: workflow.runId,
  workflowType: workflow.workflowType,
};
/**
 * Task queue of each call: the run's own queue (from its start event) for the run grant, the queue
 * the activity is scheduled on for a per-call artifact (here the workflow's, the default).
 */
const RUN_TASK_QUEUE = workflow.taskQueue;
const ACTIVITY_TASK_QUEUE = workflow.taskQueue;
const PRINCIPAL = 'alice';
/** The API key id the root grant was proven with (a key id is public; the key itself never appears). */
const CREDENTIAL = 'ak_0123456789abcdef';
const ROLES = ['payments-operator'];

/** The policy decision for a call, evaluated exactly as the authorization activity does. */
function decide(action: AuthorizationRequest['action'], target: string, args: unknown[], taskQueue: string) {
  // The authorization activity evaluates argument conditions on the tagged view's values.
  const values = argumentsView(args).map((entry) => {
    const [tag, value] = entry as [string, unknown];
    return tag === 'json' || tag === 'bytes' ? value : undefined;
  });
  return evaluatePolicy(policy, {
    principal: PRINCIPAL,
    roles: ROLES,
    action,
    target,
    workflowType: caller.workflowType,
    taskQueue,
    args: values,
  });
}

function allowed(decision: ReturnType<typeof decide>): string[] {
  if (decision.decision !== 'allow') throw new Error(`expected allow, got ${decision.code}: ${decision.reason}`);
  return decision.ruleIds;
}

// The activity's arguments, as JavaScript source: evaluated here (and by the test) in this realm.
// Chosen to exercise every carrier and every canonicalization trap (see docs/artifact.md).
const ARGUMENTS_JS = `[
  {
    orderId: 'ord-42',
    amount: 1299.5,
    currency: 'EUR',
    chargeAt: new Date('2025-03-01T12:00:00.000Z'),
    memo: undefined,
    lines: [['widget', 2], ['gadget', undefined]],
    limits: { max: 2 ** 64, min: 1e-7, huge: 1e21, zero: -0, exact: 9007199254740991 },
    fingerprint: new Uint8Array([1, 2, 255]),
    note: 'tab\\t"quoted" back\\\\slash \\u0001 caf\\u00e9 \\u20ac',
    '\\u00e9': 'U+00E9',
    '\\ud83d\\ude00': 'U+1F600 (UTF-16 D83D DE00)',
    '\\ufb01': 'U+FB01',
    Z: 'upper case sorts first',
    a: 'lower case',
  },
  new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
  undefined,
  null,
]`;

function evaluateArguments(source: string): unknown[] {
  return new Function(`return ${source};`)() as unknown[];
}

/** The Temporal payload for one argument, as the default payload converter produces it. */
function wireForm(value: unknown): Record<string, string> {
  const payload = defaultPayloadConverter.toPayload(value);
  const encoding = Buffer.from(payload.metadata!.encoding!).toString('utf8');
  const data = Buffer.from(payload.data ?? new Uint8Array());
  if (encoding === 'json/plain') return { encoding, data: data.toString('utf8') };
  if (encoding === 'binary/plain') return { encoding, dataHex: data.toString('hex') };
  if (encoding === 'binary/null') return { encoding };
  throw new Error(`unexpected encoding ${encoding}`);
}

function argumentsSection(source: string) {
  const args = evaluateArguments(source);
  const view = argumentsView(args);
  return {
    javascript: source,
    wire: args.map(wireForm),
    view,
    canonicalView: canonicalize(view),
    argsDigest: argumentsDigest(args),
  };
}

function requestFor(action: AuthorizationRequest['action'], target: string, activityId: string | null, args: unknown[], taskQueue: string): AuthorizationRequest {
  return {
    v: 2,
    action,
    target,
    activityId,
    childWorkflowId: null,
    taskQueue,
    args: argumentsView(args),
    argsDigest: argumentsDigest(args),
    workflow,
    proof: null,
    delegateRoles: null,
    parent: null,
  };
}

function signedSection(payload: ArtifactPayload | DenialPayload, signed: { payload: unknown; signature: string }) {
  const input = signingInput(payload);
  const signature = Buffer.from(signed.signature, 'base64url');
  return {
    payload,
    signingInput: Buffer.from(input).toString('utf8'),
    signingInputLength: input.length,
    payloadHash: payloadHash(payload),
    signature: signed.signature,
    signatureHex: signature.toString('hex'),
    signed,
  };
}

function build() {
  // 1. The run grant: root of the lineage, issued on the workflow's first task.
  const workflowArgsJs = `[{ orderId: 'ord-42', amount: 1299.5, currency: 'EUR' }]`;
  const workflowArgs = evaluateArguments(workflowArgsJs);
  const grantId = '3f1f7c2a-8a55-4e0b-9d6c-5b2f0e1a7c01';
  const grantPayload: ArtifactPayload = {
    typ: ARTIFACT_TYPE,
    id: grantId,
    kid: KID,
    iss: ISSUER,
    principal: PRINCIPAL,
    credential: CREDENTIAL,
    roles: ROLES,
    decisionId: decisionIdFor(requestFor('workflow', caller.workflowType, null, workflowArgs, RUN_TASK_QUEUE), caller),
    action: 'workflow',
    target: caller.workflowType,
    namespace: caller.namespace,
    workflowId: caller.workflowId,
    runId: caller.runId,
    activityId: null,
    childWorkflowId: null,
    taskQueue: RUN_TASK_QUEUE,
    argsDigest: argumentsDigest(workflowArgs),
    policy: { id: policy.id, version: policy.version },
    rules: allowed(decide('workflow', caller.workflowType, workflowArgs, RUN_TASK_QUEUE)),
    parent: null,
    issuedAt: Date.parse('2025-03-01T12:00:00.000Z'),
    rootId: grantId,
    chain: { id: grantId, hop: 1 },
    ancestors: [],
    ancestorKids: [],
    exempt: policy.exempt.activities,
    expiresAt: null,
  };
  const grant = signArtifact(grantPayload, signingKey, nodeEd25519);

  // 2. The per-call artifact for activity chargeCard (activity id "1"), a child of the run grant.
  const args = argumentsSection(ARGUMENTS_JS);
  const activityId = '1';
  const issuedAt = Date.parse('2025-03-01T12:00:01.234Z');
  const ttlMs = 5 * 60_000;
  const artifactPayload: ArtifactPayload = {
    typ: ARTIFACT_TYPE,
    id: '9b2e4d61-0c3a-4f7e-8e15-2a6d9c4b3e02',
    kid: KID,
    iss: ISSUER,
    principal: PRINCIPAL,
    credential: CREDENTIAL,
    roles: ROLES,
    decisionId: decisionIdFor(requestFor('activity', 'chargeCard', activityId, evaluateArguments(ARGUMENTS_JS), ACTIVITY_TASK_QUEUE), caller),
    action: 'activity',
    target: 'chargeCard',
    namespace: caller.namespace,
    workflowId: caller.workflowId,
    runId: caller.runId,
    activityId,
    childWorkflowId: null,
    taskQueue: ACTIVITY_TASK_QUEUE,
    argsDigest: args.argsDigest,
    policy: { id: policy.id, version: policy.version },
    rules: allowed(decide('activity', 'chargeCard', evaluateArguments(ARGUMENTS_JS), ACTIVITY_TASK_QUEUE)),
    parent: { id: grantId, hash: payloadHash(grantPayload) },
    issuedAt,
    rootId: grantId,
    chain: { id: grantId, hop: 1 },
    ancestors: [grantId],
    ancestorKids: [KID],
    exempt: [],
    expiresAt: issuedAt + ttlMs,
  };
  const artifact = signArtifact(artifactPayload, signingKey, nodeEd25519);

  // 3. A denial of a second charge in the same run (activity id "2").
  const deniedArgsJs = `[{ orderId: 'ord-42', amount: 25000, currency: 'EUR' }]`;
  const deniedArgs = evaluateArguments(deniedArgsJs);
  const refusal = decide('activity', 'chargeCard', deniedArgs, ACTIVITY_TASK_QUEUE);
  if (refusal.decision !== 'deny') throw new Error('expected the second charge to be denied');
  const denialPayload: DenialPayload = {
    typ: DENIAL_TYPE,
    id: 'c7a0e8f3-5d21-4b96-a3e4-71f0d2b58c03',
    kid: KID,
    iss: ISSUER,
    principal: PRINCIPAL,
    decisionId: decisionIdFor(requestFor('activity', 'chargeCard', '2', deniedArgs, ACTIVITY_TASK_QUEUE), caller),
    action: 'activity',
    target: 'chargeCard',
    namespace: caller.namespace,
    workflowId: caller.workflowId,
    runId: caller.runId,
    activityId: '2',
    childWorkflowId: null,
    taskQueue: ACTIVITY_TASK_QUEUE,
    argsDigest: argumentsDigest(deniedArgs),
    policy: { id: policy.id, version: policy.version },
    rules: refusal.ruleIds,
    parent: { id: grantId, hash: payloadHash(grantPayload) },
    issuedAt: Date.parse('2025-03-01T12:00:02.000Z'),
    rootId: grantId,
    code: refusal.code,
    reason: refusal.reason,
  };
  const denial = signDenial(denialPayload, signingKey, nodeEd25519);

  // Sanity: both Ed25519 implementations accept what we produced.
  for (const ed of [nodeEd25519, nobleEd25519]) {
    for (const signed of [grant, artifact]) {
      const result = verifySignedArtifact(signed, trustBundle, signed.payload.issuedAt + 1_000, ed);
      if (!result.ok) throw new Error(`generated artifact does not verify: ${result.reason}`);
    }
  }

  const key = {
    warning:
      'PUBLISHED TEST KEY: the seed is the bytes 0x00..0x1f. Anyone can sign with it. Never put it in a real trust bundle, never use it for anything but these test vectors.',
    kid: KID,
    seedHex: Buffer.from(SEED).toString('hex'),
    publicKeyHex: Buffer.from(PUBLIC_KEY).toString('hex'),
    publicKeyBase64url: toBase64Url(PUBLIC_KEY),
    signingKeyFile: { kty: 'OKP', crv: 'Ed25519', kid: KID, x: toBase64Url(PUBLIC_KEY), d: toBase64Url(SEED) },
  };

  const artifactVector = {
    title: 'temporal-governance authorization artifact test vector, version 3',
    specification: 'docs/artifact.md',
    generator: 'docs/test-vectors/generate.ts',
    key,
    trustBundle: trustBundleDocument,
    /** A time at which every artifact here is valid (key valid, per-call artifact unexpired). */
    verificationTime: issuedAt + 1_000,
    policy: { yaml: POLICY_YAML, id: policy.id, version: policy.version },
    principals: { [PRINCIPAL]: { roles: ROLES } },
    runGrant: {
      description:
        'Root run grant (action "workflow") of workflow pay-order-42; taskQueue = the run\'s task queue from its start event; parent null, rootId = its own id, chain = { id: its own id, hop: 1 } (the first run of its chain), ancestors and ancestorKids [], expiresAt null.',
      workflowArguments: { javascript: workflowArgsJs, view: argumentsView(workflowArgs), argsDigest: argumentsDigest(workflowArgs) },
      ...signedSection(grantPayload, grant),
    },
    artifact: {
      description: 'Per-call artifact for activity chargeCard, activity id "1", in the same run, scheduled on task queue payments; parent = the run grant; chain = the run grant\'s chain; ancestors = [run grant id] (the run grant is its chain\'s first run, so it is listed); ancestorKids = [the run grant\'s kid].',
      arguments: args,
      /** The call as the activity worker sees it (ctx.info) for the first attempt. */
      call: {
        namespace: caller.namespace,
        workflowId: caller.workflowId,
        runId: caller.runId,
        activityId,
        activityType: 'chargeCard',
        taskQueue: ACTIVITY_TASK_QUEUE,
        isLocal: false,
        argsDigest: args.argsDigest,
        attempt: 1,
        scheduledTimestampMs: issuedAt + 50,
      },
      ...signedSection(artifactPayload, artifact),
    },
  };

  const denialVector = {
    title: 'temporal-governance denial record test vector, version 2',
    specification: 'docs/artifact.md',
    generator: 'docs/test-vectors/generate.ts',
    note: 'A signed denial record. It verifies under the trust bundle of artifact-v3.json, but it is NOT an authorization artifact: its typ differs and every verifier must reject it where an artifact is expected (deny code ARTIFACT_WRONG_TYPE).',
    key: { kid: KID, publicKeyBase64url: toBase64Url(PUBLIC_KEY), seedHex: key.seedHex },
    trustBundle: trustBundleDocument,
    arguments: { javascript: deniedArgsJs, view: argumentsView(deniedArgs), argsDigest: argumentsDigest(deniedArgs) },
    denial: signedSection(denialPayload, denial),
  };

  return {
    'artifact-v3.json': `${JSON.stringify(artifactVector, null, 2)}\n`,
    'denial-v2.json': `${JSON.stringify(denialVector, null, 2)}\n`,
  };
}

function main() {
  const check = process.argv.includes('--check');
  let stale = false;
  for (const [name, text] of Object.entries(build())) {
    const path = join(OUT_DIR, name);
    if (check) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        // missing counts as stale
      }
      if (current !== text) {
        stale = true;
        console.error(`${path} differs from what the generator produces`);
      } else console.log(`${path} is reproducible`);
    } else {
      writeFileSync(path, text);
      console.log(`wrote ${path}`);
    }
  }
  if (stale) process.exit(1);
}

main();
