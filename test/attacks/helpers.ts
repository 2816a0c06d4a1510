// What the attacker brings: a rogue worker (own task queue, no governance interceptors), a raw
// client (no plugin, no API key), attacker code and interceptors compiled into the legitimate
// worker, and readers for the grants, proofs and artifacts every history shows in clear.
import { join } from 'node:path';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type ApplicationFailure, type Payload } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { AUTHORIZE_ACTIVITY, HEADER_START_PROOF } from '../../src/common/constants';
import { AuthorizationResultSchema, type AuthorizationResult, type SignedArtifact } from '../../src/common/schemas';
import { WORKFLOW_INTERCEPTORS_MODULE } from '../../src/plugin';
import { activities, uniqueName, type Env } from '../helpers/harness';

const fixtures = join(__dirname, 'fixtures');
export const rogueWorkflowsPath = join(fixtures, 'rogue-workflows.ts');
export const rogueInterceptorsPath = join(fixtures, 'rogue-interceptors.ts');
export const governedWorkflowsPath = join(fixtures, 'governed-workflows.ts');
export const tamperPath = join(fixtures, 'tamper.ts');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Arsenal {
  /** Task queue only the attacker's worker polls. */
  readonly rogueQueue: string;
  /** A client without the GovernancePlugin: no API key, no start proof. */
  readonly raw: Client;
  /** The legitimate app worker (GovernancePlugin), running attacker workflow code + tamper interceptors. */
  governedWorker(taskQueue?: string): Promise<Worker>;
  /** The attacker's worker: plain Worker.create, own task queue, own interceptors, no plugin. */
  rogueWorker(): Promise<Worker>;
  /** Governed app worker + governance worker (+ the rogue worker when asked). */
  workers(options?: { rogue?: boolean }): Promise<Worker[]>;
}

export async function arsenal(env: Env): Promise<Arsenal> {
  const logger = new DefaultLogger('WARN');
  const [governedBundle, rogueBundle] = await Promise.all([
    bundleWorkflowCode({ workflowsPath: governedWorkflowsPath, workflowInterceptorModules: [WORKFLOW_INTERCEPTORS_MODULE, tamperPath], plugins: [env.plugin], logger }),
    bundleWorkflowCode({ workflowsPath: rogueWorkflowsPath, workflowInterceptorModules: [rogueInterceptorsPath], logger }),
  ]);
  const rogueQueue = uniqueName('rogue');
  const a: Arsenal = {
    rogueQueue,
    raw: new Client({ connection: env.client.connection }),
    governedWorker: (taskQueue = env.taskQueue) =>
      Worker.create({ connection: env.connection, taskQueue, workflowBundle: governedBundle, activities, plugins: [env.plugin] }),
    rogueWorker: () => Worker.create({ connection: env.connection, taskQueue: rogueQueue, workflowBundle: rogueBundle, activities: {} }),
    async workers(options = {}) {
      return [await a.governedWorker(), await env.governanceWorker(), ...(options.rogue ? [await a.rogueWorker()] : [])];
    },
  };
  return a;
}

/** A raw client (no plugin) that adds the given start headers verbatim: copied proofs and grants. */
export function clientSending(env: Env, headers: Record<string, Payload>): Client {
  return new Client({
    connection: env.client.connection,
    interceptors: { workflow: [{ startWithDetails: (input, next) => next({ ...input, headers: { ...input.headers, ...headers } }) }] },
  });
}

export interface Authorization {
  readonly request: { action: string; target: string; [k: string]: unknown };
  readonly result: AuthorizationResult;
}

/** Every authorization a run obtained, in order, read from its history (requests and signed answers). */
export async function authorizationsOf(client: Client, workflowId: string, runId?: string): Promise<Authorization[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const scheduled = new Map<number, unknown>();
  const out: Authorization[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s?.activityType?.name === AUTHORIZE_ACTIVITY) scheduled.set(Number(e.eventId), defaultPayloadConverter.fromPayload(s.input!.payloads![0]! as Payload));
    const c = e.activityTaskCompletedEventAttributes;
    if (c && scheduled.has(Number(c.scheduledEventId))) {
      out.push({
        request: scheduled.get(Number(c.scheduledEventId)) as Authorization['request'],
        result: AuthorizationResultSchema.parse(defaultPayloadConverter.fromPayload(c.result!.payloads![0]! as Payload)),
      });
    }
  }
  return out;
}

/** The signed artifact of the run's first allowed authorization of `action` (e.g. its run grant). */
export async function issuedArtifact(client: Client, workflowId: string, action: string, runId?: string): Promise<SignedArtifact> {
  const found = (await authorizationsOf(client, workflowId, runId)).find((a) => a.result.decision === 'allow' && a.result.artifact.payload.action === action);
  if (!found || found.result.decision !== 'allow') throw new Error(`${workflowId} obtained no ${action} artifact`);
  return found.result.artifact;
}

/** A header of the first scheduled activity of `activityType` (decoded). */
export async function scheduledHeader(handle: WorkflowHandle, activityType: string, header: string): Promise<unknown> {
  const history = await handle.fetchHistory();
  const s = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes).find((x) => x?.activityType?.name === activityType);
  const payload = s?.header?.fields?.[header];
  if (!payload) throw new Error(`no ${header} on a scheduled ${activityType}`);
  return defaultPayloadConverter.fromPayload(payload as Payload);
}

/** The raw start-proof header of a run's started event. */
export async function startProofOf(handle: WorkflowHandle): Promise<Payload> {
  const history = await handle.fetchHistory();
  const proof = history.events?.[0]?.workflowExecutionStartedEventAttributes?.header?.fields?.[HEADER_START_PROOF];
  if (!proof) throw new Error('no start proof in the start event');
  return proof as Payload;
}

/** The denial code governance answered a hand-made request with (throws on an allow). */
export function deniedWith(answer: unknown): { code: string; reason: string } {
  const result = AuthorizationResultSchema.parse(answer);
  if (result.decision !== 'deny') throw new Error(`governance ALLOWED the forged request: ${JSON.stringify(result.artifact.payload)}`);
  return { code: result.denial.payload.code, reason: result.denial.payload.reason };
}

export const codeOf = (failure: ApplicationFailure | { details?: unknown[] }) => (failure.details?.[0] as { code: string } | undefined)?.code;

/** Polls until `check` returns a value (not undefined), or fails after timeoutMs. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
