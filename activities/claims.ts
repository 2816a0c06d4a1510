// Stage 1 of a decision: every fact the server knows replaces the request's claim of it, and a claim
// that differs is denied. Honest interceptors send exactly what the server recorded, so a mismatch
// is either a bug or someone acting as another run. Pure.
import { canonicalize } from '../src/common/canonical';
import type { AuthorizationRequest } from '../src/common/schemas';
import type { CallerFacts, RunStart } from './caller';

export interface ClaimMismatch {
  readonly field: string;
  readonly claimed: unknown;
  readonly actual: unknown;
}

/** Equal as documents (canonical JSON), not as objects. */
export function sameDocument(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  try {
    return canonicalize(a ?? null) === canonicalize(b ?? null);
  } catch {
    return false;
  }
}

/** The first claim about the calling run that the activity's server-set info contradicts. */
export function callerMismatch(request: AuthorizationRequest, caller: CallerFacts): ClaimMismatch | null {
  for (const field of ['namespace', 'workflowId', 'runId', 'workflowType'] as const) {
    if (request.workflow[field] !== caller[field]) return { field: `workflow.${field}`, claimed: request.workflow[field], actual: caller[field] };
  }
  return null;
}

/**
 * The first claim about a run's start (for its run grant) that the server's history contradicts.
 * `startedAt` is not compared: the workflow only knows its first task's time; the started event's
 * time replaces it.
 */
export function startMismatch(request: AuthorizationRequest, start: RunStart): ClaimMismatch | null {
  const wf = request.workflow;
  const checks: Array<[string, unknown, unknown]> = [
    ['workflow.workflowType', wf.workflowType, start.workflowType],
    ['workflow.taskQueue', wf.taskQueue, start.taskQueue],
    ['taskQueue', request.taskQueue, start.taskQueue],
    ['workflow.parent', wf.parent, start.parent],
    ['workflow.continuedFromRunId', wf.continuedFromRunId, start.continuedFromRunId],
    ['workflow.firstExecutionRunId', wf.firstExecutionRunId, start.firstExecutionRunId],
    ['argsDigest', request.argsDigest, 'digest' in start.args ? start.args.digest : null],
    ['proof', request.proof, start.proof],
    ['parent', request.parent, start.parentGrant],
  ];
  for (const [field, claimed, actual] of checks) if (!sameDocument(claimed, actual)) return { field, claimed, actual };
  return null;
}

/** A short, log-safe rendering of a claimed or actual value for a deny reason. */
export function describeClaim(value: unknown): string {
  if (value === undefined || value === null) return 'none';
  if (typeof value === 'object') {
    const id = (value as { payload?: { id?: unknown } }).payload?.id;
    return typeof id === 'string' ? `a document with id ${JSON.stringify(id).slice(0, 80)}` : 'a document';
  }
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 120 ? `${json.slice(0, 117)}...` : json;
}
