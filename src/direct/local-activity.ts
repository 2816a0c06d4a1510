// The application worker's side of direct authorization: the local activity the workflow
// interceptors schedule instead of the authorization activity when the bundle says `direct`. It
// signs the request with the worker's API key and the caller its own SDK set (this activity's info),
// and asks a governance worker's endpoint. It holds no signing key and decides nothing: the answer is
// governance's signed decision, or a failure the workflow treats like the authorization activity's.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { parseApiKey, type ParsedApiKey } from '../identity/api-key';
import { signWorkerRequest, type DirectCaller } from './worker-request';
import { DIRECT_AUTHORIZE_PATH, DirectAuthorizeResponseSchema } from './wire';

export const DirectAuthorizationOptionsSchema = z
  .object({
    /**
     * Base URLs of governance workers' endpoints (`http://127.0.0.1:7243`, `https://governance.internal:7243`),
     * tried in turn from a rotating start; a load balancer's single URL works too.
     */
    endpoints: z
      .array(
        z
          .string()
          .url()
          .refine((u) => /^https:\/\//.test(u) || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(u), 'an endpoint is an https:// URL (http:// only on loopback: requests carry call arguments)'),
      )
      .min(1, 'name at least one governance endpoint'),
    /** API key (`tgk.…`) of a principal holding role temporal-governance:worker: this worker's credential. */
    apiKey: z.string().min(1),
    /** Per-request deadline (default 5000 ms); the local activity is retried until the authorization timeout. */
    requestTimeoutMs: z.number().int().positive().default(5_000),
  })
  .strict();
export type DirectAuthorizationOptions = z.input<typeof DirectAuthorizationOptionsSchema>;

export class DirectAuthorizationConfigError extends Error {
  override readonly name = 'DirectAuthorizationConfigError';
}

/** Parses the options; a malformed key or URL fails here, and the error never contains the key. */
export function parseDirectAuthorizationOptions(input: unknown): { endpoints: string[]; key: ParsedApiKey; requestTimeoutMs: number } {
  const parsed = DirectAuthorizationOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new DirectAuthorizationConfigError(`directAuthorization: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.path[0] === 'apiKey' ? 'invalid' : i.message}`).join('; ')}`);
  }
  let key: ParsedApiKey;
  try {
    key = parseApiKey(parsed.data.apiKey);
  } catch (err) {
    throw new DirectAuthorizationConfigError(`directAuthorization.apiKey: ${(err as Error).message}`);
  }
  return { endpoints: parsed.data.endpoints.map((u) => u.replace(/\/+$/, '')), key, requestTimeoutMs: parsed.data.requestTimeoutMs };
}

function describeError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}

const RETRY_INITIAL_MS = 200;
const RETRY_MAX_MS = 5_000;
/** However long the workflow code asks the attempt to last. */
const MAX_ATTEMPT_MS = 10 * 60_000;

/** Why one request got no decision: governance's own failure, or no endpoint answering. */
type Attempt = { readonly result: unknown } | { readonly failure: { type: string; message: string; nonRetryable: boolean } };

/**
 * The local activity's implementation (registered as DIRECT_AUTHORIZE_ACTIVITY by GovernancePlugin).
 * One attempt retries by itself until its start-to-close timeout (the authorization timeout) is
 * nearly spent, under the same caller and first scheduled time, so every retry asks for the same
 * decision; then it fails for good with the last reason, which the workflow turns into a denial.
 */
export function directAuthorizeActivity(options: { endpoints: readonly string[]; key: ParsedApiKey; requestTimeoutMs: number }): (request: unknown) => Promise<unknown> {
  let turn = 0;

  async function ask(request: unknown, caller: DirectCaller, cancellation: AbortSignal, deadline: number): Promise<Attempt> {
    const body = JSON.stringify({ request, proof: signWorkerRequest(options.key, caller, request) });
    const start = turn++ % options.endpoints.length;
    const problems: string[] = [];
    for (let i = 0; i < options.endpoints.length; i++) {
      const base = options.endpoints[(start + i) % options.endpoints.length]!;
      let response: Response;
      try {
        response = await fetch(`${base}${DIRECT_AUTHORIZE_PATH}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.any([cancellation, AbortSignal.timeout(Math.max(1, Math.min(options.requestTimeoutMs, deadline - Date.now())))]),
        });
      } catch (err) {
        if (cancellation.aborted) throw err;
        problems.push(`${base}: ${describeError(err)}`);
        continue;
      }
      const answer = DirectAuthorizeResponseSchema.safeParse(await response.json().catch(() => undefined));
      if (!answer.success) {
        problems.push(`${base}: HTTP ${response.status} without a decision`);
        continue;
      }
      return answer.data;
    }
    return { failure: { type: 'GovernanceUnavailable', message: `no governance endpoint answered (${problems.join('; ')})`, nonRetryable: false } };
  }

  return async function authorizeDirect(request: unknown): Promise<unknown> {
    const { info, cancellationSignal, sleep } = Context.current();
    // Only as the local activity the workflow interceptors schedule: scheduled remotely (by anyone's
    // workflow, on this worker's task queue) it would spend this worker's slots and key on requests.
    if (!info.isLocal || !info.workflowExecution || !info.workflowNamespace || !info.workflowType) {
      throw ApplicationFailure.nonRetryable('direct authorization runs as the local activity of a governed workflow run only', 'GovernanceMalformedRequest');
    }
    const caller: DirectCaller = {
      namespace: info.workflowNamespace,
      workflowId: info.workflowExecution.workflowId,
      runId: info.workflowExecution.runId,
      workflowType: info.workflowType,
      activityId: info.activityId,
      scheduledAt: info.scheduledTimestampMs,
    };
    // Room to report the last failure before the attempt's own timeout.
    const deadline = Date.now() + Math.max(0, Math.min(info.startToCloseTimeoutMs, MAX_ATTEMPT_MS) - 500);
    for (let wait = RETRY_INITIAL_MS; ; wait = Math.min(wait * 2, RETRY_MAX_MS)) {
      const attempt = await ask(request, caller, cancellationSignal, deadline);
      if ('result' in attempt) return attempt.result;
      const { type, message, nonRetryable } = attempt.failure;
      if (nonRetryable || Date.now() + wait >= deadline) throw ApplicationFailure.create({ type, message, nonRetryable: true });
      await sleep(wait);
    }
  };
}
