// The arguments a lineage record was decided on. A record carries only their digest (argsDigest,
// signed); the arguments themselves are in Temporal: for a run grant the run's start input, for any
// other decision the authorization request scheduled in the requesting run's history. What is read
// there is a claim like anything in history, so it is shown only when its digest is the signed one:
// then it is, byte for byte, what the policy evaluated.
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { readRunStart } from '../../activities/caller';
import { canonicalize } from '../common/canonical';
import { AUTHORIZE_ACTIVITY } from '../common/constants';
import { sha256Hex } from '../common/digest';
import { AuthorizationRequestSchema, AuthorizationResultSchema } from '../common/schemas';
import type { LineageRecord } from './schema';

export type DecisionArguments =
  /** `view` is the tagged argument view (docs/artifact.md): `["json", value]`, `["bytes", hex]` or `["undefined"]` per argument. */
  | { readonly found: true; readonly view: unknown[]; readonly digest: string; readonly source: 'run start' | 'authorization request' }
  | { readonly found: false; readonly reason: string };

/** History pages read at most while looking for a decision's request (a page holds up to 1,000 events). */
export const MAX_HISTORY_PAGES = 50;

const viewDigest = (view: unknown[]): string | null => {
  try {
    return `sha256:${sha256Hex(canonicalize(view))}`;
  } catch {
    return null;
  }
};

const signedOf = (record: LineageRecord) => (record.artifact ?? record.denial)!.payload;

/** A payload as the client's data converter reads it (codecs last to first, then the payload converter). */
async function decode(client: Client, payload: Payload): Promise<unknown> {
  const { payloadConverter, payloadCodecs } = client.options.loadedDataConverter;
  let decoded = payload;
  for (const codec of [...payloadCodecs].reverse()) [decoded] = (await codec.decode([decoded])) as [Payload];
  return payloadConverter.fromPayload(decoded);
}

const firstLine = (text: string) => text.split('\n')[0] ?? text;

/**
 * The arguments the policy saw for `record`, read from Temporal with `client` (its namespace must be
 * the record's), or why they cannot be shown: the run's history is gone (retention), cannot be
 * decoded (a codec this client lacks), is longer than MAX_HISTORY_PAGES, or holds arguments whose
 * digest is not the signed one.
 */
export async function decisionArguments(client: Client, record: LineageRecord): Promise<DecisionArguments> {
  const signed = signedOf(record);
  const execution = { workflowId: record.workflowId, runId: record.runId };
  const matches = (view: unknown[], source: 'run start' | 'authorization request'): DecisionArguments => {
    const digest = viewDigest(view);
    return digest === signed.argsDigest
      ? { found: true, view, digest, source }
      : { found: false, reason: `the ${source} in Temporal history has digest ${digest ?? '(none)'}, not the signed ${signed.argsDigest}` };
  };
  try {
    if (record.action === 'workflow') {
      // What governance evaluated for a run grant: the run's start input, read from the server.
      const start = await readRunStart(client, { namespace: record.namespace, ...execution, workflowType: record.target });
      if ('error' in start.args) return { found: false, reason: start.args.error };
      return matches(start.args.view, 'run start');
    }
    // The request whose completed authorization returned this very decision.
    const requests = new Map<string, Payload>();
    let nextPageToken: Uint8Array | undefined;
    for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
      const response = await client.workflowService.getWorkflowExecutionHistory({ namespace: record.namespace, execution, maximumPageSize: 1_000, nextPageToken });
      for (const e of response.history?.events ?? []) {
        const scheduled = e.activityTaskScheduledEventAttributes;
        if (scheduled?.activityType?.name === AUTHORIZE_ACTIVITY && scheduled.input?.payloads?.[0]) requests.set(String(e.eventId), scheduled.input.payloads[0] as Payload);
        const completed = e.activityTaskCompletedEventAttributes;
        const request = completed ? requests.get(String(completed.scheduledEventId)) : undefined;
        if (!completed || !request || !completed.result?.payloads?.[0]) continue;
        const result = AuthorizationResultSchema.safeParse(await decode(client, completed.result.payloads[0] as Payload));
        if (!result.success) continue;
        const id = result.data.decision === 'allow' ? result.data.artifact.payload.id : result.data.denial.payload.id;
        if (id !== record._id) continue;
        const parsed = AuthorizationRequestSchema.safeParse(await decode(client, request));
        if (!parsed.success) return { found: false, reason: 'the authorization request in Temporal history is not a valid request' };
        return matches(parsed.data.args, 'authorization request');
      }
      nextPageToken = response.nextPageToken?.length ? response.nextPageToken : undefined;
      if (!nextPageToken) return { found: false, reason: `no completed authorization in run ${record.workflowId}/${record.runId} returned ${record._id}` };
    }
    return { found: false, reason: `not found in the first ${MAX_HISTORY_PAGES} pages of run ${record.workflowId}/${record.runId}'s history` };
  } catch (err) {
    const e = err as { code?: number; message?: string };
    // gRPC NOT_FOUND: the run is unknown to this namespace, or past its retention period.
    if (e.code === 5) return { found: false, reason: `run ${record.workflowId}/${record.runId} is not in namespace ${record.namespace} (retention may have removed it)` };
    return { found: false, reason: `cannot read run ${record.workflowId}/${record.runId} from Temporal: ${firstLine(e.message ?? String(err))}` };
  }
}
