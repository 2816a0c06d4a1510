// Unit tests and benchmarks call the authorizer without Temporal. They play the server: these
// contexts answer with exactly what the request claims (an honest caller), or with given facts.
import type { CallContext } from '../../activities/authorize';
import type { CallerFacts, RunStart } from '../../activities/caller';
import type { AuthorizationRequest } from '../../src/common/schemas';

/** The caller a request that names no usable workflow gets (malformed-input tests). */
const SOME_CALLER: CallerFacts = { namespace: 'default', workflowId: 'some-workflow', runId: 'some-run', workflowType: 'SomeWorkflow' };

/** The server facts an honest interceptor's request describes. */
export function runStartOf(request: AuthorizationRequest): RunStart {
  const wf = request.workflow;
  return {
    workflowType: wf.workflowType,
    taskQueue: wf.taskQueue,
    parent: wf.parent,
    continuedFromRunId: wf.continuedFromRunId,
    initiator: wf.continuedFromRunId ? 'continue-as-new' : null,
    firstExecutionRunId: wf.firstExecutionRunId,
    startedAt: wf.startedAt,
    args: { view: request.args, digest: request.argsDigest },
    proof: request.proof ?? undefined,
    parentGrant: request.parent ?? undefined,
  };
}

/** The caller facts an honest interceptor's request describes. */
export function callerOf(request: AuthorizationRequest): CallerFacts {
  const wf = request.workflow;
  return { namespace: wf.namespace, workflowId: wf.workflowId, runId: wf.runId, workflowType: wf.workflowType };
}

/**
 * A server that agrees with the request, with `overrides` where it does not. Input that is not a
 * request at all (malformed-input tests) gets some caller, so the authorizer reaches its parse.
 */
export function honestContext(request: unknown, overrides: { caller?: Partial<CallerFacts>; start?: Partial<RunStart> } = {}): CallContext {
  const r = request as AuthorizationRequest;
  const named = typeof r === 'object' && r !== null && typeof r.workflow === 'object' && r.workflow !== null;
  return {
    caller: { ...(named ? callerOf(r) : SOME_CALLER), ...overrides.caller },
    runStart: async () => ({ ...runStartOf(r), ...overrides.start }),
  };
}
