// The governed demo: starts the dev stack, a governance worker and an app worker, runs a payments
// scenario (starts, approvals sent by signal and update, a run started by a Schedule) and prints
// what governance allowed and denied, and why.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError, type ScheduleHandle, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { generateSigningKey, loadTrustBundle } from '../../src/crypto/keys';
import { connectLineage, lineageCollection } from '../../src/lineage/store';
import { createApiKey, createPrincipal, revoke } from '../../src/identity/store';
import { verifyLineage } from '../../src/lineage/verify';
import { GovernancePlugin } from '../../src/plugin';
import { startDevStack, stopOnSignals, type DevStack } from '../../src/stack/stack';
import { createGovernanceWorker } from '../../src/worker/governance-worker';
import { AUTHORIZE_ACTIVITY } from '../../src/common/constants';
import { AuthorizationRequestSchema, AuthorizationResultSchema, DenialDetailsSchema, type AuthorizationResult, type DenialDetails } from '../../src/common/schemas';
import { denialDetailsFromPayload, findGovernanceDenial } from '../../src/common/denial';
import { table } from '../../src/cli/table';
import * as activities from './activities';
import type { Charge } from './activities';
import { approveAndChargeUpdate, approveSignal, invoiceStatusQuery, payInvoice, payInvoiceIgnoringErrors, payInvoiceOnApproval } from './workflows';

interface Scenario {
  readonly title: string;
  readonly workflow: typeof payInvoice;
  readonly charge: Charge;
  readonly principal: string;
  /** Start with an API key that was revoked before the start. */
  readonly revokedKey?: boolean;
  /** What governance must decide; the demo exits non-zero otherwise. */
  readonly expected: 'completed' | 'denied';
}

const scenarios: Scenario[] = [
  { title: 'Pay a 250 EUR invoice', workflow: payInvoice, expected: 'completed', principal: 'payments-bot', charge: { invoiceId: 'INV-1001', amount: 250, currency: 'EUR', country: 'DE' } },
  { title: 'Pay a 25,000 EUR invoice', workflow: payInvoice, principal: 'payments-bot', expected: 'denied', charge: { invoiceId: 'INV-1002', amount: 25_000, currency: 'EUR', country: 'FR' } },
  {
    title: 'Swallow a denied charge',
    workflow: payInvoiceIgnoringErrors,
    principal: 'payments-bot',
    expected: 'denied',
    charge: { invoiceId: 'INV-1003', amount: 40_000, currency: 'USD', country: 'US' },
  },
  { title: 'Pay to a sanctioned country', workflow: payInvoice, principal: 'payments-bot', expected: 'denied', charge: { invoiceId: 'INV-1004', amount: 90, currency: 'EUR', country: 'KP' } },
  { title: 'Support agent pays an invoice', workflow: payInvoice, principal: 'support-agent', expected: 'denied', charge: { invoiceId: 'INV-1005', amount: 10, currency: 'EUR', country: 'DE' } },
  {
    title: 'Pay with a revoked API key',
    workflow: payInvoice,
    principal: 'payments-bot',
    revokedKey: true,
    expected: 'denied',
    charge: { invoiceId: 'INV-1006', amount: 20, currency: 'EUR', country: 'DE' },
  },
];

/**
 * Held by payments-bot until someone approves it: support-agent's signal is dropped, payments-bot's
 * own update is denied (four eyes), finance-approver's signal releases the charge.
 */
const heldInvoice: Charge = { invoiceId: 'INV-1007', amount: 4_200, currency: 'EUR', country: 'NL' };
/** Paid by a run that billing-scheduler's Schedule starts (the demo triggers it once). */
const monthlySettlement: Charge = { invoiceId: 'INV-1008', amount: 99, currency: 'EUR', country: 'DE' };
/** Lineage roots: one per start scenario, the held invoice's run, the scheduled run. */
const lineageRoots = scenarios.length + 2;

/** Who may act, with which roles; each gets an API key created (and held in memory) by the demo. */
const principals = [
  { id: 'payments-bot', roles: ['payments-operator'], description: 'the billing service that settles invoices' },
  { id: 'support-agent', roles: ['support'], description: 'a support agent' },
  { id: 'finance-approver', roles: ['finance-approver'], description: 'finance: approves held invoices' },
  { id: 'billing-scheduler', roles: ['payments-operator'], description: 'the service that owns the monthly settlement schedule' },
];

type Status = 'completed' | 'denied' | 'dropped' | 'failed';

/** One line of the demo's table. */
interface Outcome {
  readonly title: string;
  /** Who acted: the starter of a run, the sender of a signal or update, the owner of a schedule. */
  readonly principal: string;
  readonly workflowId: string;
  /** What governance must decide; the demo exits non-zero otherwise. */
  readonly expected: Exclude<Status, 'failed'>;
  readonly status: Status;
  readonly detail: string;
  readonly denial?: DenialDetails;
  readonly charged: boolean;
}

const charged = (invoiceId: string) => activities.sideEffects.includes(`chargeCard:${invoiceId}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Decisions a run obtained, in order, as its history records them (the authorization activity's requests and answers). */
async function decisionsOf(handle: WorkflowHandle): Promise<Array<{ action: string; target: string; result: AuthorizationResult }>> {
  const history = await handle.fetchHistory();
  const requests = new Map<string, { action: string; target: string }>();
  const decisions: Array<{ action: string; target: string; result: AuthorizationResult }> = [];
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === AUTHORIZE_ACTIVITY) {
      const { action, target } = AuthorizationRequestSchema.parse(defaultPayloadConverter.fromPayload(scheduled.input!.payloads![0] as Payload));
      requests.set(String(event.eventId), { action, target });
    }
    const completed = event.activityTaskCompletedEventAttributes;
    const request = completed && requests.get(String(completed.scheduledEventId));
    if (request) decisions.push({ ...request, result: AuthorizationResultSchema.parse(defaultPayloadConverter.fromPayload(completed.result!.payloads![0] as Payload)) });
  }
  return decisions;
}

/** The `nth` (1-based) decision on a signal to the run, once governance has made it. */
async function signalDecision(handle: WorkflowHandle, nth: number): Promise<AuthorizationResult> {
  for (let i = 0; i < 150; i++) {
    const decision = (await decisionsOf(handle)).filter((d) => d.action === 'signal')[nth - 1];
    if (decision) return decision.result;
    await sleep(100);
  }
  throw new Error(`no decision on signal #${nth} to ${handle.workflowId}`);
}

/** The run a schedule's first action started. */
async function firstScheduledRun(client: Client, schedule: ScheduleHandle): Promise<WorkflowHandle> {
  for (let i = 0; i < 150; i++) {
    const action = (await schedule.describe()).info.recentActions[0];
    if (action) return client.workflow.getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId);
    await sleep(100);
  }
  throw new Error(`schedule ${schedule.scheduleId} started no run`);
}

interface ScenarioContext {
  readonly clientOf: (principal: string) => Client;
  readonly taskQueue: string;
  readonly stamp: string;
}

/**
 * One held invoice, three approvals, one line each: a signal from a principal the policy refuses
 * (dropped before its handler, the invoice keeps waiting), an update from the service that raised
 * the invoice (denied to its caller), a signal from finance (admitted: the card is charged).
 */
async function heldInvoiceScenarios({ clientOf, taskQueue, stamp }: ScenarioContext): Promise<Outcome[]> {
  const { invoiceId } = heldInvoice;
  const workflowId = `${invoiceId.toLowerCase()}-${stamp}`;
  const held = await clientOf('payments-bot').workflow.start(payInvoiceOnApproval, { taskQueue, workflowId, args: [heldInvoice] });
  const approval = { invoiceId };
  const outcomes: Outcome[] = [];

  await clientOf('support-agent').workflow.getHandle(workflowId).signal(approveSignal, approval);
  const refused = await signalDecision(held, 1);
  const denial = refused.decision === 'deny' ? denialDetailsFromPayload(refused.denial.payload) : undefined;
  outcomes.push({
    title: 'Support agent approves a held invoice (signal)',
    principal: 'support-agent',
    workflowId,
    expected: 'dropped',
    status: denial ? 'dropped' : 'failed',
    detail: denial ? `${denial.code}: ${denial.reason}; the invoice is still ${await held.query(invoiceStatusQuery)}` : 'the signal was admitted',
    denial,
    charged: charged(invoiceId),
  });

  const selfApproval = await held.executeUpdate(approveAndChargeUpdate, { args: [approval] }).then(
    (chargeId) => ({ chargeId }),
    (err: unknown) => ({ err }),
  );
  const updateDenial = 'err' in selfApproval ? governanceDenial(selfApproval.err) : undefined;
  outcomes.push({
    title: 'Billing bot approves its own invoice (update)',
    principal: 'payments-bot',
    workflowId,
    expected: 'denied',
    status: updateDenial ? 'denied' : 'failed',
    detail: updateDenial
      ? `${updateDenial.code}: ${updateDenial.reason}; the caller got GovernanceDenied, the invoice is still ${await held.query(invoiceStatusQuery)}`
      : 'err' in selfApproval
        ? String(selfApproval.err)
        : `the update was admitted: ${selfApproval.chargeId}`,
    denial: updateDenial,
    charged: charged(invoiceId),
  });

  await clientOf('finance-approver').workflow.getHandle(workflowId).signal(approveSignal, approval);
  const paid = await held.result().then(
    (result) => ({ status: 'completed' as const, detail: `${result}, approved by finance-approver's signal` }),
    (err: unknown) => ({ status: 'failed' as const, detail: String(err) }),
  );
  outcomes.push({ title: 'Finance approves the held invoice (signal)', principal: 'finance-approver', workflowId, expected: 'completed', ...paid, charged: charged(invoiceId) });
  return outcomes;
}

/**
 * A Schedule created through a client with the plugin (billing-scheduler's key signs its schedule
 * proof), paused, triggered once; its run is admitted on the schedule owner's authority. The
 * schedule is deleted afterwards.
 */
async function scheduledScenario({ clientOf, taskQueue, stamp }: ScenarioContext): Promise<Outcome> {
  const owner = 'billing-scheduler';
  const schedule = await clientOf(owner).schedule.create({
    scheduleId: `monthly-settlement-${stamp}`,
    // Monthly; created paused so only the demo's trigger starts a run (no wall-clock wait).
    spec: { calendars: [{ dayOfMonth: 1, hour: 6 }] },
    state: { paused: true, note: 'demo: started by trigger only' },
    action: { type: 'startWorkflow', workflowType: payInvoice, taskQueue, workflowId: `${monthlySettlement.invoiceId.toLowerCase()}-${stamp}`, args: [monthlySettlement] },
  });
  try {
    await schedule.trigger();
    const run = await firstScheduledRun(clientOf(owner), schedule);
    const result = await run.result().then(
      (value) => ({ value }),
      (err: unknown) => ({ err }),
    );
    const grant = (await decisionsOf(run)).find((d) => d.action === 'workflow')?.result;
    const authority = grant?.decision === 'allow' ? grant.artifact.payload.principal : null;
    const denial = 'err' in result ? governanceDenial(result.err) : undefined;
    const onOwnersAuthority = authority === owner;
    return {
      title: 'Monthly settlement run by a Schedule',
      principal: owner,
      workflowId: run.workflowId,
      expected: 'completed',
      status: 'value' in result && onOwnersAuthority ? 'completed' : denial ? 'denied' : 'failed',
      detail:
        'value' in result
          ? `${result.value}, run granted to ${authority ?? 'nobody'} by schedule ${schedule.scheduleId}`
          : denial
            ? `${denial.code}: ${denial.reason}`
            : String(result.err),
      denial,
      charged: charged(monthlySettlement.invoiceId),
    };
  } finally {
    await schedule.delete();
  }
}

function governanceDenial(err: unknown): DenialDetails | undefined {
  const parsed = DenialDetailsSchema.safeParse(findGovernanceDenial(err)?.details?.[0]);
  return parsed.success ? parsed.data : undefined;
}


/** Waits for lineage to settle (persistence is batched), then verifies it offline like an auditor. */
async function lineageSummary(mongoUri: string, database: string, bundlePath: string, roots: number): Promise<string> {
  const { client, db } = await connectLineage(mongoUri, database);
  try {
    // Every scenario is a root; wait until each has records and the count holds still.
    let previous = -1;
    let count = 0;
    for (let i = 0; i < 60; i++) {
      const seen = (await lineageCollection(db).distinct('rootId')).length;
      count = await lineageCollection(db).countDocuments();
      if (seen >= roots && count === previous) break;
      previous = count;
      await new Promise((r) => setTimeout(r, 500));
    }
    const summary = await verifyLineage(db, loadTrustBundle(bundlePath));
    if (summary.violations.length > 0) throw new Error(`lineage verification failed: ${summary.violations.map((v) => `${v.id}: ${v.message}`).join('; ')}`);
    const verdict = 'verified offline: every signature, hash link and ancestor link holds';
    return `Lineage: ${summary.records} authorization records in MongoDB across ${summary.roots} roots, ${verdict}.`;
  } finally {
    await client.close();
  }
}

export interface DemoOptions {
  /** Keep the stack (and its Web UI) running after the scenario until Ctrl-C. */
  readonly keepRunning?: boolean;
  readonly out?: (text: string) => void;
}

export async function runDemo(options: DemoOptions = {}): Promise<Outcome[]> {
  const out = options.out ?? ((text: string) => process.stdout.write(`${text}\n`));
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  out('Starting the dev stack (Temporal dev server with Web UI, MongoDB for lineage)...');
  const stack = await startDevStack({ name: 'demo', persistTemporal: false, log: (l) => out(`  ${l}`) });
  stopOnSignals(stack);
  const keyDir = mkdtempSync(join(tmpdir(), 'governance-demo-keys-'));
  // The demo's private key must not outlive the demo on any exit path: 'exit' also runs after
  // Ctrl-C (stopOnSignals exits the process) and after an uncaught error. Only SIGKILL escapes it.
  const removeKeys = () => rmSync(keyDir, { recursive: true, force: true });
  process.once('exit', removeKeys);
  try {
    for (const line of stack.description) out(`  ${line}`);
    const keyPath = join(keyDir, 'signing-key.json');
    const bundlePath = join(keyDir, 'trust-bundle.json');
    generateSigningKey({ keyPath, bundlePath, kid: 'demo-key-1' });

    const connection = await NativeConnection.connect({ address: stack.temporalAddress });
    const governanceTaskQueue = 'temporal-governance';
    // Each run signs with a fresh demo key, so each run keeps its lineage in a database of its own.
    const lineageDatabase = `demo_${Date.now().toString(36)}`;
    const appTaskQueue = 'payments';
    const governance = await createGovernanceWorker({
      connection,
      taskQueue: governanceTaskQueue,
      policy: join(__dirname, 'policy.yaml'),
      signingKeyPath: keyPath,
      trustBundlePath: bundlePath,
      mongoUri: stack.mongoUri!,
      database: lineageDatabase,
    });
    // Identity lives in MongoDB: principals and API keys, as `temporal-governance principals create`
    // and `api-keys create` would make them. The keys stay in this process and are never printed.
    const apiKeys = new Map<string, string>();
    const identity = await connectLineage(stack.mongoUri!, lineageDatabase);
    let revokedKey = '';
    try {
      for (const p of principals) {
        await createPrincipal(identity.db, p);
        apiKeys.set(p.id, (await createApiKey(identity.db, { principal: p.id })).apiKey);
      }
      const revoked = await createApiKey(identity.db, { principal: 'payments-bot' });
      await revoke(identity.db, 'api-key', revoked.document._id, 'demo: a leaked key');
      revokedKey = revoked.apiKey;
    } finally {
      await identity.client.close();
    }
    const appPlugin = new GovernancePlugin({ trustBundle: bundlePath, identity: { mongoUri: stack.mongoUri!, database: lineageDatabase }, workflow: { taskQueue: governanceTaskQueue } });
    const app = await Worker.create({
      connection,
      taskQueue: appTaskQueue,
      workflowsPath: require.resolve('./workflows'),
      activities,
      plugins: [appPlugin],
    });
    const running = [governance.run(), app.run()];
    const clientConnection = await Connection.connect({ address: stack.temporalAddress });
    const outcomes: Outcome[] = [];
    let lineage = '';
    try {
      out('Running the payments scenario...');
      const stamp = Date.now().toString(36);
      const clientOf = (principal: string) => new Client({ connection: clientConnection, plugins: [new GovernancePlugin({ apiKey: apiKeys.get(principal)! })] });
      for (const scenario of scenarios) {
        const apiKey = scenario.revokedKey ? revokedKey : apiKeys.get(scenario.principal)!;
        const client = new Client({ connection: clientConnection, plugins: [new GovernancePlugin({ apiKey })] });
        const workflowId = `${scenario.charge.invoiceId.toLowerCase()}-${stamp}`;
        const handle = await client.workflow.start(scenario.workflow, { taskQueue: appTaskQueue, workflowId, args: [scenario.charge] });
        const row = { title: scenario.title, principal: scenario.principal, workflowId, expected: scenario.expected };
        try {
          const result = await handle.result();
          outcomes.push({ ...row, status: 'completed', detail: result, charged: charged(scenario.charge.invoiceId) });
        } catch (err) {
          const denial = governanceDenial(err);
          const message = err instanceof WorkflowFailedError ? String(err.cause?.message) : String(err);
          outcomes.push({ ...row, status: denial ? 'denied' : 'failed', detail: denial ? `${denial.code}: ${denial.reason}` : message, denial, charged: charged(scenario.charge.invoiceId) });
        }
      }
      const context: ScenarioContext = { clientOf, taskQueue: appTaskQueue, stamp };
      outcomes.push(...(await heldInvoiceScenarios(context)));
      outcomes.push(await scheduledScenario(context));
      // Lineage is persisted by the governance worker: read it back while it still runs.
      lineage = await lineageSummary(stack.mongoUri!, lineageDatabase, bundlePath, lineageRoots);
    } finally {
      governance.shutdown();
      app.shutdown();
      await Promise.all(running);
      await appPlugin.close();
      await clientConnection.close();
      await connection.close();
      // Nothing signs any more; the trust bundle stays for `lineage verify` while the stack runs.
      rmSync(keyPath, { force: true });
    }

    out('');
    out(
      table([
        ['Scenario', 'Principal', 'Workflow', 'Outcome', 'Card charged', 'Rule', 'Why'],
        ...outcomes.map((o) => [
          o.title,
          o.principal,
          o.workflowId,
          o.status.toUpperCase(),
          o.charged ? 'yes' : 'no',
          o.denial?.ruleIds.join(',') || (o.denial?.code === 'NO_MATCHING_ALLOW' ? '(default deny)' : o.denial ? '(identity, before policy)' : '-'),
          o.detail,
        ]),
      ]),
    );
    out('');
    out(lineage);
    out('lookupExchangeRate is exempt in the policy: it ran without a per-call authorization.');
    out('"Swallow a denied charge" caught the denial in workflow code and still failed: strict fail-closed.');
    out('"Pay with a revoked API key" was refused at the root grant: the start proof named a revoked key, so nothing ran.');
    out(`The three approvals went to one held invoice (${heldInvoice.invoiceId}, started by payments-bot): each was authorized on its sender's own API key`);
    out('  before its handler ran; the refused signal was dropped and the refused update failed to its caller, the run went on, and');
    out('  the card was charged only once finance-approver\'s approval was admitted.');
    out('"Monthly settlement run by a Schedule": a paused schedule created by billing-scheduler\'s client, triggered once; its run was');
    out('  admitted on the key that created the schedule (each scheduled time admits one run). The schedule was then deleted.');
    if (stack.uiUrl) {
      const ui = (query: string) => `${stack.uiUrl}/namespaces/${stack.namespace}/workflows?query=${encodeURIComponent(query)}`;
      out(`Operators see the denials in the Temporal Web UI: ${ui('GovernanceDecision="denied"')}`);
      out(`and runs that refused a signal or update: ${ui('GovernanceDecision="message-denied"')}`);
    }
    if (options.keepRunning) {
      const consoleUrl = await startDemoConsole({ stack, database: lineageDatabase, bundlePath });
      out('');
      out(`Governance console (lineage explorer, proof viewer, health): ${consoleUrl}`);
      out('The stack keeps running; press Ctrl-C to stop it. To use the CLI against it, in another terminal:');
      for (const line of cliEnvironment({ stack, database: lineageDatabase, bundlePath })) out(`  ${line}`);
      await new Promise(() => undefined);
    } else if (stack.uiUrl) {
      out('(The dev server stops with the demo; run `npm run demo -- --keep-running` to browse the UI.)');
    }
    const unexpected = outcomes.filter((o) => o.status !== o.expected || (o.status !== 'completed' && o.charged));
    if (unexpected.length > 0) throw new Error(`unexpected outcomes: ${unexpected.map((o) => o.title).join(', ')}`);
    return outcomes;
  } finally {
    removeKeys();
    process.removeListener('exit', removeKeys);
    await stack.stop();
  }
}

/**
 * The console over the demo's lineage, on 127.0.0.1:8234 (the console's default) or, when that is
 * taken, any free port. It lives until the demo's process exits.
 */
async function startDemoConsole(options: { stack: DevStack; database: string; bundlePath: string }): Promise<string> {
  const { startConsole } = await import('../../src/console/server');
  const { parseConsoleOptions } = await import('../../src/console/options');
  const { readTrustBundleDocument } = await import('../../src/crypto/keys');
  const mongo = await connectLineage(options.stack.mongoUri!, options.database);
  const connection = await Connection.connect({ address: options.stack.temporalAddress });
  const context = (port: number) => ({
    options: parseConsoleOptions({ port, database: options.database, bundlePath: options.bundlePath, namespace: options.stack.namespace, webUiUrl: options.stack.uiUrl ?? undefined }),
    db: mongo.db,
    temporal: new Client({ connection, namespace: options.stack.namespace }),
    trust: loadTrustBundle(options.bundlePath),
    trustDocument: readTrustBundleDocument(options.bundlePath),
  });
  try {
    return (await startConsole(context(8234))).url;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return (await startConsole(context(0))).url;
  }
}

/** What an operator needs to point the CLI at the demo's stack (no credentials are printed). */
function cliEnvironment(options: { stack: DevStack; database: string; bundlePath: string }): string[] {
  const { stack, database, bundlePath } = options;
  return [
    `export TEMPORAL_ADDRESS=${stack.temporalAddress} TEMPORAL_NAMESPACE=${stack.namespace}`,
    // A URI with credentials is not printed (the user has it already); one without is, verbatim.
    !/@/.test((stack.mongoUri ?? '').split('?')[0] ?? '')
      ? `export MONGODB_URI='${stack.mongoUri}'   # lineage and identity database: ${database}`
      : `# MONGODB_URI: the one in your environment (not printed: it holds credentials); lineage and identity database: ${database}`,
    ...(stack.uiUrl ? [`# Temporal Web UI: ${stack.uiUrl}`] : []),
    `npx temporal-governance denials list --since 1h`,
    `npx temporal-governance lineage verify --bundle ${bundlePath} --database ${database}`,
    `npx temporal-governance lineage denials --database ${database}`,
  ];
}
