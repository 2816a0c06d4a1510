// Reading back what governance decided, from Temporal histories, to compare with MongoDB.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { AuthorizationResultSchema } from '../../src/common/schemas';
import { AUTHORIZE_ACTIVITY } from '../../src/common/constants';
import type { Db } from 'mongodb';
import { lineageCollection } from '../../src/lineage/store';

export interface IssuedDecision {
  readonly id: string;
  readonly decision: 'allow' | 'deny';
  readonly parentId: string | null;
  readonly rootId: string;
  readonly action: string;
  readonly workflowId: string;
}

/**
 * A run's events in small pages: a governed run's events carry signed artifacts, and a default
 * page of a long run can exceed the client's 4 MiB message limit.
 */
export async function historyEvents(client: Client, workflowId: string, runId: string) {
  const events: NonNullable<Awaited<ReturnType<typeof client.workflowService.getWorkflowExecutionHistory>>['history']>['events'] & object = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 100,
      nextPageToken,
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}

/** Every decision returned to a run, following continue-as-new and child workflows. */
export async function issuedDecisions(client: Client, workflowId: string, runId: string): Promise<IssuedDecision[]> {
  const out: IssuedDecision[] = [];
  const scheduled = new Map<number, string>();
  for (const e of await historyEvents(client, workflowId, runId)) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(Number(e.eventId), s.activityType?.name ?? '');
    const c = e.activityTaskCompletedEventAttributes;
    if (c && scheduled.get(Number(c.scheduledEventId)) === AUTHORIZE_ACTIVITY) {
      const parsed = AuthorizationResultSchema.parse(defaultPayloadConverter.fromPayload(c.result!.payloads![0]!));
      const p = parsed.decision === 'allow' ? parsed.artifact.payload : parsed.denial.payload;
      out.push({ id: p.id, decision: parsed.decision, parentId: p.parent?.id ?? null, rootId: p.rootId ?? p.id, action: p.action, workflowId: p.workflowId });
    }
    const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (child) out.push(...(await issuedDecisions(client, child.workflowId!, child.runId!)));
    const next = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (next) out.push(...(await issuedDecisions(client, workflowId, next)));
  }
  return out;
}

/** Waits until MongoDB holds at least `count` lineage records for the root (persistence is batched). */
export async function waitForRecords(db: Db, rootId: string, count: number, timeoutMs = 60_000, client?: Client): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let n = 0;
  while (Date.now() < deadline) {
    n = await lineageCollection(db).countDocuments({ rootId });
    if (n >= count) return n;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (client) {
    // Say why: the lineage workflow's pending persist activity carries the last failure.
    const d = await client.workflow.getHandle(`temporal-governance-lineage-${rootId}`).describe();
    const failures = (d.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name}: attempt ${a.attempt}: ${a.lastFailure?.message ?? 'no failure yet'}`);
    throw new Error(`only ${n} of ${count} lineage records after ${timeoutMs} ms; lineage workflow ${d.status.name}; ${failures.join('; ') || 'no pending activity'}`);
  }
  return n;
}
