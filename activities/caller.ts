// Who is calling, according to the Temporal server. The authorization request says who it is; this
// module says who it really is: the calling run's identity from the activity's server-set info, and
// for a run grant the run's start (parent, continued-from run, first run, start time, input and
// start headers) from the first event of its history. Runs on governance workers.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type LoadedDataConverter, type Payload, type SerializationContext } from '@temporalio/common';
import { HEADER_MESSAGE_PROOF, HEADER_PARENT_GRANT, HEADER_SCHEDULE_PROOF, HEADER_SENDER_GRANT, HEADER_START_PROOF } from '../src/common/constants';
import { sameDocument } from './claims';
import { argumentsView, ArgumentDigestError, decodedArgumentsDigest } from '../src/common/digest';

/** The run that scheduled the authorization activity, as the server set it in the activity's info. */
export interface CallerFacts {
  readonly namespace: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly workflowType: string;
}

/** The calling run's start, from its WorkflowExecutionStarted event. */
export interface RunStart {
  readonly workflowType: string;
  readonly taskQueue: string;
  readonly parent: { readonly workflowId: string; readonly runId: string } | null;
  readonly continuedFromRunId: string | null;
  /** Why the previous run of the chain led to this one: continue-as-new, a workflow retry, a cron run. */
  readonly initiator: 'continue-as-new' | 'retry' | 'cron' | null;
  readonly firstExecutionRunId: string;
  /** Time of the started event (server time, ms). */
  readonly startedAt: number;
  /**
   * The run this started event was first written for: the run itself, except for a run made by
   * resetting another, whose started event is a copy of the reset run's.
   */
  readonly originalRunId?: string | null;
  /** Tagged view and digest of the start input, or why it has none (a value no digest can cover). */
  readonly args: { readonly view: unknown[]; readonly digest: string } | { readonly error: string };
  /** Decoded start headers the run grant rests on (undefined when absent). */
  readonly proof: unknown;
  readonly parentGrant: unknown;
  /** The schedule proof header (runs a Schedule started; undefined when absent). */
  readonly scheduleProof?: unknown;
  /**
   * The `TemporalScheduledById` search attribute of the start (null when absent). The scheduler sets
   * it, but so can any client on its own start: a claim, checked against the schedule's record.
   */
  readonly scheduledById?: string | null;
}

export class CallerError extends Error {
  override readonly name = 'CallerError';
}

/** The caller from an activity's info; undefined when no workflow scheduled it (a standalone activity). */
export function callerFromInfo(info: { workflowExecution?: { workflowId: string; runId: string }; workflowNamespace?: string; workflowType?: string }): CallerFacts | undefined {
  const { workflowExecution: execution, workflowNamespace: namespace, workflowType } = info;
  if (!execution?.workflowId || !execution.runId || !namespace || !workflowType) return undefined;
  return { namespace, workflowId: execution.workflowId, runId: execution.runId, workflowType };
}

// Start headers are the governance interceptors' own (start proof, parent grant): written with the
// default payload converter whatever the application's converter, and left unencoded by the SDK's
// codecs (TS SDK 1.24 encodes no header, in clients or workers), so the sandbox reads them as they
// are in history, and so does this.
function decodeHeader(payload: Payload | undefined): unknown {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return { malformed: true };
  }
}

/**
 * The start input as the run's workflow code receives it: history holds it as the client encoded it
 * (payload converter, then codecs, e.g. encrypted), so it is decoded the way the client's own data
 * converter decodes: codecs in reverse order, with the client's serialization context, then the
 * payload converter.
 */
async function decodedArgs(converter: LoadedDataConverter, payloads: Payload[], context: SerializationContext): Promise<RunStart['args']> {
  try {
    let decoded = payloads;
    for (let i = converter.payloadCodecs.length - 1; i >= 0; i--) decoded = await converter.payloadCodecs[i]!.decode(decoded, context);
    const values = decoded.map((p) => converter.payloadConverter.fromPayload(p));
    const digest = decodedArgumentsDigest(values);
    return { view: argumentsView(values), digest };
  } catch (err) {
    if (err instanceof ArgumentDigestError) return { error: err.message };
    return { error: `the input cannot be decoded: ${(err as Error).message}` };
  }
}

/** Set by the server's scheduler on every run it starts (and settable by any client on its own start). */
export const SCHEDULED_BY_ID = 'TemporalScheduledById';

/** A keyword search attribute's value: a string, or a list holding one (how SDKs write them). */
function keywordOf(payload: Payload | undefined): string | null {
  const value = decodeHeader(payload);
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string') return value[0];
  return null;
}

// temporal.api.enums.v1.ContinueAsNewInitiator
const INITIATORS: Record<number, RunStart['initiator']> = { 1: 'continue-as-new', 2: 'retry', 3: 'cron' };

const msOf = (t: { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined): number => {
  const seconds = typeof t?.seconds === 'number' ? t.seconds : (t?.seconds?.toNumber() ?? 0);
  return seconds * 1000 + Math.floor((t?.nanos ?? 0) / 1_000_000);
};

/**
 * Reads the run's first history event. One server read per run; {@link runStartCache} keeps it.
 * The input is decoded with `client`'s data converter: the governance worker's activity client,
 * which has the worker's (createGovernanceWorker's `dataConverter`).
 */
export async function readRunStart(client: Client, caller: CallerFacts): Promise<RunStart> {
  const response = await client.workflowService.getWorkflowExecutionHistory({
    namespace: caller.namespace,
    execution: { workflowId: caller.workflowId, runId: caller.runId },
    maximumPageSize: 1,
  });
  const event = response.history?.events?.[0];
  const started = event?.workflowExecutionStartedEventAttributes;
  if (!event || !started) throw new CallerError(`run ${caller.workflowId}/${caller.runId} has no started event in its history`);
  const fields = started.header?.fields ?? {};
  return {
    workflowType: started.workflowType?.name ?? '',
    taskQueue: started.taskQueue?.name ?? '',
    parent: started.parentWorkflowExecution?.workflowId
      ? { workflowId: started.parentWorkflowExecution.workflowId, runId: started.parentWorkflowExecution.runId ?? '' }
      : null,
    continuedFromRunId: started.continuedExecutionRunId || null,
    initiator: started.continuedExecutionRunId ? (INITIATORS[Number(started.initiator ?? 0)] ?? null) : null,
    firstExecutionRunId: started.firstExecutionRunId || caller.runId,
    startedAt: msOf(event.eventTime),
    originalRunId: started.originalExecutionRunId || null,
    args: await decodedArgs(client.options.loadedDataConverter, (started.input?.payloads ?? []) as Payload[], {
      type: 'workflow',
      namespace: caller.namespace,
      workflowId: caller.workflowId,
    }),
    proof: decodeHeader(fields[HEADER_START_PROOF] as Payload | undefined),
    parentGrant: decodeHeader(fields[HEADER_PARENT_GRANT] as Payload | undefined),
    scheduleProof: decodeHeader(fields[HEADER_SCHEDULE_PROOF] as Payload | undefined),
    scheduledById: keywordOf(started.searchAttributes?.indexedFields?.[SCHEDULED_BY_ID] as Payload | undefined),
  };
}

/**
 * A run's start never changes, so it is read once per run: retried and repeated run-grant
 * authorizations pay nothing. Bounded by entries and by the size of the inputs it holds (anyone can
 * start runs with large inputs and ask for their grants): the least recently used entry goes first.
 */
export function runStartCache(
  read: (caller: CallerFacts) => Promise<RunStart>,
  limits: { maxEntries?: number; maxInputChars?: number } = {},
): (caller: CallerFacts) => Promise<RunStart> {
  const maxEntries = limits.maxEntries ?? 10_000;
  const maxInputChars = limits.maxInputChars ?? 16_000_000;
  const entries = new Map<string, { start: Promise<RunStart>; chars: number }>();
  let chars = 0;
  const evict = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    chars -= entry.chars;
  };
  return (caller) => {
    const key = `${caller.namespace}\u0000${caller.workflowId}\u0000${caller.runId}`;
    const cached = entries.get(key);
    if (cached) {
      entries.delete(key);
      entries.set(key, cached);
      return cached.start;
    }
    const entry = { start: read(caller), chars: 0 };
    entries.set(key, entry);
    entry.start.then(
      (start) => {
        if (entries.get(key) !== entry) return;
        entry.chars = 'view' in start.args ? JSON.stringify(start.args.view).length : 0;
        chars += entry.chars;
        while (chars > maxInputChars && entries.size > 1) evict(entries.keys().next().value!);
      },
      () => evict(key), // a failed read is retried by the next attempt
    );
    while (entries.size > maxEntries) evict(entries.keys().next().value!);
    return entry.start;
  };
}

/** A signal or update as the server recorded it in the calling run's history. */
export interface DeliveredMessage {
  readonly kind: 'signal' | 'update';
  /** The history event that delivered it (one event admits one message). */
  readonly eventId: string;
  readonly name: string;
  /** Updates: the update id from the accepted event; signals: null. */
  readonly updateId: string | null;
  /** Event time of the WorkflowExecutionSignaled / WorkflowExecutionUpdateAccepted event. */
  readonly deliveredAt: number;
  readonly args: RunStart['args'];
  /**
   * What proves the sender: the message proof header a client attached, or for a signal a workflow
   * sent, the sender-grant header (undefined when absent).
   */
  readonly proof: unknown;
  /** Signals a workflow sent: the sending run, as the server recorded it; null for a client's signal or an update. */
  readonly sender: { readonly workflowId: string; readonly runId: string } | null;
}

/**
 * Which message to look for: an update by its id; a signal (signals have no id) by the proof it
 * carries, preferring the one with the claimed name and argument digest when a copied proof was
 * sent more than once.
 */
export type MessageLookup =
  | { readonly kind: 'signal'; readonly proof: unknown; readonly name: string; readonly argsDigest: string }
  | { readonly kind: 'update'; readonly updateId: string };

/** How far back from the end of the run's history a message is looked for. */
export const MESSAGE_LOOKBACK_EVENTS = 2_000;


/**
 * Finds the message in the calling run's history, newest first: it was delivered before the
 * workflow task that asked for its authorization, so it is near the end. A signal carries no id,
 * and a copied proof can arrive on several events: every event with the proof and the claimed name
 * and digest is returned, newest first, and the caller admits at most one message per event. When
 * none has the claimed name and digest, the newest event with the proof (to name the difference).
 * Empty when the last MESSAGE_LOOKBACK_EVENTS events hold no such message.
 */
export async function readDeliveredMessage(client: Client, caller: CallerFacts, lookup: MessageLookup): Promise<DeliveredMessage[]> {
  let nextPageToken: Uint8Array | undefined;
  let seen = 0;
  let newestWithProof: DeliveredMessage | null = null;
  const matches: DeliveredMessage[] = [];
  do {
    const response = await client.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: caller.namespace,
      execution: { workflowId: caller.workflowId, runId: caller.runId },
      maximumPageSize: 200,
      nextPageToken,
    });
    for (const event of response.history?.events ?? []) {
      seen += 1;
      const context: SerializationContext = { type: 'workflow', namespace: caller.namespace, workflowId: caller.workflowId };
      if (lookup.kind === 'signal' && event.workflowExecutionSignaledEventAttributes) {
        const signaled = event.workflowExecutionSignaledEventAttributes;
        const external = signaled.externalWorkflowExecution;
        const sender = external?.workflowId ? { workflowId: external.workflowId, runId: external.runId ?? '' } : null;
        // As the workflow side reads it: a client's message proof first, else a sending run's grant.
        const fields = signaled.header?.fields ?? {};
        const proof = decodeHeader((fields[HEADER_MESSAGE_PROOF] ?? fields[HEADER_SENDER_GRANT]) as Payload | undefined);
        if (proof === undefined || !sameDocument(proof, lookup.proof)) continue;
        const delivered: DeliveredMessage = {
          kind: 'signal',
          eventId: String(event.eventId ?? ''),
          name: signaled.signalName ?? '',
          updateId: null,
          deliveredAt: msOf(event.eventTime),
          args: await decodedArgs(client.options.loadedDataConverter, (signaled.input?.payloads ?? []) as Payload[], context),
          proof,
          sender,
        };
        if (delivered.name === lookup.name && 'digest' in delivered.args && delivered.args.digest === lookup.argsDigest) matches.push(delivered);
        else newestWithProof ??= delivered;
        continue;
      }
      if (lookup.kind === 'update' && event.workflowExecutionUpdateAcceptedEventAttributes) {
        const request = event.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest;
        if (request?.meta?.updateId !== lookup.updateId) continue;
        return [{
          kind: 'update',
          eventId: String(event.eventId ?? ''),
          name: request.input?.name ?? '',
          updateId: lookup.updateId,
          deliveredAt: msOf(event.eventTime),
          args: await decodedArgs(client.options.loadedDataConverter, (request.input?.args?.payloads ?? []) as Payload[], context),
          proof: decodeHeader(request.input?.header?.fields?.[HEADER_MESSAGE_PROOF] as Payload | undefined),
          sender: null,
        }];
      }
    }
    nextPageToken = response.nextPageToken?.length ? response.nextPageToken : undefined;
  } while (nextPageToken && seen < MESSAGE_LOOKBACK_EVENTS);
  if (matches.length > 0) return matches;
  // The proof was delivered, but not with what the request claims: the caller reports the difference.
  return newestWithProof ? [newestWithProof] : [];
}
