// Workflow interceptors: the sandbox entry point (register with `workflowModules`). Only
// deterministic, Node-free code is reachable from here.
//
// Every run first obtains its run grant (action `workflow`), then every activity, local activity,
// child workflow start and continue-as-new is authorized by the authorization activity on the
// governance task queue before it is scheduled. A denial upserts the governance search attributes
// and fails the workflow closed.
import {
  ActivityFailure,
  ApplicationFailure,
  defaultPayloadConverter,
  SearchAttributeType,
  defineSearchAttributeKey,
  type Headers,
} from '@temporalio/common';
import {
  getCurrentDetails,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityInput,
  type ContinueAsNewInput,
  type LocalActivityInput,
  type StartChildWorkflowExecutionInput,
  type StartNexusOperationInput,
  type StartNexusOperationOutput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptors,
  type WorkflowOutboundCallsInterceptor,
  type Next,
} from '@temporalio/workflow';
import {
  AUTHORIZE_ACTIVITY,
  DenyCodes,
  GOVERNANCE_DENIED,
  HEADER_ARTIFACT,
  HEADER_PARENT_GRANT,
  HEADER_START_PROOF,
  IDENTITY_STALE_FAILURE,
  DELEGATE_MEMO,
  SEARCH_ATTRIBUTES,
} from '../../src/common/constants';
import { denialDetailsFromPayload, governanceDeniedFailure } from '../../src/common/denial';
import { ArgumentDigestError, argumentsDigest, argumentsView } from '../../src/common/digest';
import { matchesAnyGlob } from '../../src/common/glob';
import {
  AuthorizationResultSchema,
  DelegationSchema,
  type Action,
  type AuthorizationRequest,
  DenialDetailsSchema,
  type DenialDetails,
  type SignedArtifact,
} from '../../src/common/schemas';
import { resolveWorkflowConfig, type WorkflowGovernanceConfig } from '../../src/common/workflow-config';

// GovernancePlugin looks for this string in prebuilt bundles (see marker.ts).
export { WORKFLOW_INTERCEPTORS_MARKER } from './marker';

declare const __TEMPORAL_GOVERNANCE_WORKFLOW_CONFIG__: Partial<WorkflowGovernanceConfig> | undefined;

const config = resolveWorkflowConfig(
  typeof __TEMPORAL_GOVERNANCE_WORKFLOW_CONFIG__ === 'undefined' ? undefined : __TEMPORAL_GOVERNANCE_WORKFLOW_CONFIG__,
);

const decisionKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.decision, SearchAttributeType.KEYWORD);
const denyCodeKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.denyCode, SearchAttributeType.KEYWORD);
const policyVersionKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.policyVersion, SearchAttributeType.KEYWORD);
const principalKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.principal, SearchAttributeType.KEYWORD);

/** What the UI shows for one authorization: `activity chargeCard #5`, `child-workflow payInvoice`. */
function describeCall(call: { action: Action; target: string; activityId: string | null; childWorkflowId: string | null }): string {
  const id = call.activityId ? ` #${call.activityId}` : call.childWorkflowId ? ` ${call.childWorkflowId}` : '';
  return `${call.action} ${call.target}${id}`;
}

function readHeader(headers: Headers, name: string): unknown {
  const payload = headers[name];
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return { malformed: true };
  }
}

type RawFailure = { message?: string | null; cause?: RawFailure | null; applicationFailureInfo?: { type?: string | null } | null };

/**
 * The application failure of `type` in an error's cause chain. A TimeoutFailure drops its cause
 * (the last attempt's failure) when converted, so the raw failure it came from is searched too.
 */
function failureOfType(err: unknown, type: string): { message: string } | undefined {
  for (let cause = err; cause; cause = (cause as { cause?: unknown }).cause) {
    if (cause instanceof ApplicationFailure && cause.type === type) return cause;
    for (let raw = (cause as { failure?: RawFailure }).failure; raw; raw = raw.cause ?? undefined) {
      if (raw.applicationFailureInfo?.type === type) return { message: raw.message ?? type };
    }
  }
  return undefined;
}

function withHeader(headers: Headers, name: string, value: unknown): Headers {
  return { ...headers, [name]: defaultPayloadConverter.toPayload(value) };
}

/** Per-run governance state; the factory below runs once per workflow run. */
class RunGovernance {
  grant: SignedArtifact | undefined;
  denial: ApplicationFailure | undefined;
  private rejectRun: ((err: ApplicationFailure) => void) | undefined;
  /** Rejects when any call of this run is denied, so strict mode can fail the run even if code catches. */
  readonly denied: Promise<never> | undefined;

  constructor() {
    if (config.strict) {
      this.denied = new Promise<never>((_, reject) => {
        this.rejectRun = reject;
      });
      this.denied.catch(() => undefined); // observed through Promise.race in execute
    }
  }

  /** The authorization activity, with a summary naming the call so the event history reads by itself. */
  private authorizeActivity(summary: string): (request: AuthorizationRequest) => Promise<unknown> {
    return proxyActivities<Record<string, (request: AuthorizationRequest) => Promise<unknown>>>({
      taskQueue: config.taskQueue,
      startToCloseTimeout: Math.min(10_000, config.authorizationTimeoutMs),
      scheduleToCloseTimeout: config.authorizationTimeoutMs,
      retry: { initialInterval: 200, backoffCoefficient: 2, maximumInterval: 5_000, nonRetryableErrorTypes: ['GovernanceMalformedRequest'] },
      summary: `authorize ${summary}`,
    })[AUTHORIZE_ACTIVITY]!;
  }

  isExempt(activityType: string): boolean {
    return this.grant !== undefined && matchesAnyGlob(this.grant.payload.exempt, activityType);
  }

  /** Returns the signed artifact for the call, or fails closed. */
  async authorize(call: {
    action: Action;
    target: string;
    activityId: string | null;
    childWorkflowId: string | null;
    taskQueue: string;
    args: readonly unknown[];
    proof?: unknown;
    delegateRoles?: string[] | null;
    parent?: unknown;
  }): Promise<SignedArtifact> {
    if (this.denial) throw this.denial; // after a denial this run authorizes nothing more
    const info = workflowInfo();
    const base = { ruleIds: [], policyId: null, policyVersion: null, decisionId: null, action: call.action, target: call.target };
    const principal = this.grant?.payload.principal ?? null;
    let args: unknown[];
    let argsDigest: string;
    try {
      args = argumentsView(call.args);
      argsDigest = argumentsDigest(call.args);
    } catch (err) {
      // Deterministic: retrying the workflow task would fail the same way forever.
      if (!(err instanceof ArgumentDigestError)) throw err;
      return this.failClosed({ ...base, principal, code: DenyCodes.malformedRequest, reason: `the arguments have no digest: ${err.message}` });
    }
    const request: AuthorizationRequest = {
      v: 2,
      action: call.action,
      target: call.target,
      activityId: call.activityId,
      childWorkflowId: call.childWorkflowId,
      taskQueue: call.taskQueue,
      args,
      argsDigest,
      workflow: {
        namespace: info.namespace,
        workflowId: info.workflowId,
        runId: info.runId,
        workflowType: info.workflowType,
        taskQueue: info.taskQueue,
        parent: info.parent ? { workflowId: info.parent.workflowId, runId: info.parent.runId } : null,
        continuedFromRunId: info.continuedFromExecutionRunId ?? null,
        firstExecutionRunId: info.firstExecutionRunId,
        startedAt: info.runStartTime.getTime(),
      },
      proof: call.proof ?? null,
      delegateRoles: call.delegateRoles ?? null,
      parent: call.parent ?? this.grant ?? null,
    };
    const what = describeCall(call);
    const previousDetails = getCurrentDetails();
    setCurrentDetails(`governance: waiting for authorization of ${what} (task queue ${config.taskQueue})`);
    let raw: unknown;
    try {
      raw = await this.authorizeActivity(what)(request);
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const malformed = cause instanceof ApplicationFailure && cause.type === 'GovernanceMalformedRequest';
      // Retried until the authorization timeout; the last attempt's failure is the timeout's cause.
      const stale = failureOfType(cause, IDENTITY_STALE_FAILURE);
      return this.failClosed({
        ...base,
        principal,
        code: malformed ? DenyCodes.malformedRequest : stale ? DenyCodes.identityStateStale : DenyCodes.governanceUnavailable,
        reason: malformed
          ? `the authorization request was rejected: ${cause.message}`
          : stale
            ? `${stale.message} (for longer than the authorization timeout)`
            : `authorization did not complete (${(cause as Error | undefined)?.message ?? 'unknown error'}); denied, never allowed`,
      });
    }
    const result = AuthorizationResultSchema.safeParse(raw);
    if (!result.success) {
      return this.failClosed({ ...base, principal, code: DenyCodes.invalidResponse, reason: 'the authorization activity returned an unparseable result' });
    }
    if (result.data.decision === 'deny') return this.failClosed(denialDetailsFromPayload(result.data.denial.payload));
    setCurrentDetails(previousDetails);
    return result.data.artifact;
  }

  failClosed(details: DenialDetails): never {
    const failure = governanceDeniedFailure(details);
    this.denial = failure;
    setCurrentDetails(`governance: DENIED ${failure.message}`);
    upsertSearchAttributes([
      { key: decisionKey, value: 'denied' },
      { key: denyCodeKey, value: details.code },
      { key: policyVersionKey, value: details.policyVersion ?? 'none' },
      ...(details.principal ? [{ key: principalKey, value: details.principal }] : []),
    ]);
    this.rejectRun?.(failure);
    throw failure;
  }
}

class GovernanceInbound implements WorkflowInboundCallsInterceptor {
  constructor(private readonly run: RunGovernance) {}

  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const info = workflowInfo();
    this.run.grant = await this.run.authorize({
      action: 'workflow',
      target: info.workflowType,
      activityId: null,
      childWorkflowId: null,
      taskQueue: info.taskQueue,
      args: input.args,
      proof: readHeader(input.headers, HEADER_START_PROOF) ?? null,
      parent: readHeader(input.headers, HEADER_PARENT_GRANT) ?? null,
    });
    const body = next(input);
    return this.run.denied ? Promise.race([body, this.run.denied]) : body;
  }
}

class GovernanceOutbound implements WorkflowOutboundCallsInterceptor {
  constructor(private readonly run: RunGovernance) {}

  /**
   * A GovernanceDenied raised by the enforcement point (forged, replayed or expired artifact) fails
   * the run closed exactly like a policy denial: search attributes, strict mode, nothing after it.
   */
  private async enforced<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (err) {
      const cause = err instanceof ActivityFailure ? err.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === GOVERNANCE_DENIED) {
        const details = DenialDetailsSchema.safeParse(cause.details?.[0]);
        if (details.success) this.run.failClosed({ ...details.data, principal: details.data.principal ?? this.run.grant?.payload.principal ?? null });
      }
      throw err;
    }
  }

  async scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    if (input.activityType === AUTHORIZE_ACTIVITY) return next(input); // recursion guard
    const artifact = this.run.isExempt(input.activityType)
      ? this.run.grant!
      : await this.run.authorize({
          action: 'activity',
          target: input.activityType,
          activityId: input.options.activityId ?? `${input.seq}`,
          childWorkflowId: null,
          taskQueue: input.options.taskQueue ?? workflowInfo().taskQueue,
          args: input.args,
        });
    return this.enforced(next({ ...input, headers: withHeader(input.headers, HEADER_ARTIFACT, artifact) }));
  }

  async scheduleLocalActivity(
    input: LocalActivityInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>,
  ): Promise<unknown> {
    // Each LocalActivityDoBackoff comes back here with a new seq (hence a new activity id), so every
    // attempt after a backoff is authorized afresh; LocalActivityDoBackoff from next() passes through
    // untouched (enforced() only acts on GovernanceDenied activity failures).
    const artifact = this.run.isExempt(input.activityType)
      ? this.run.grant!
      : await this.run.authorize({
          action: 'local-activity',
          target: input.activityType,
          activityId: `${input.seq}`,
          childWorkflowId: null,
          taskQueue: workflowInfo().taskQueue,
          args: input.args,
        });
    return this.enforced(next({ ...input, headers: withHeader(input.headers, HEADER_ARTIFACT, artifact) }));
  }

  async startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
  ): Promise<[Promise<string>, Promise<unknown>]> {
    const delegation = input.options.memo?.[DELEGATE_MEMO];
    const parsedDelegation = delegation === undefined ? undefined : DelegationSchema.safeParse(delegation);
    if (parsedDelegation && !parsedDelegation.success) {
      return this.run.failClosed({
        code: DenyCodes.malformedRequest,
        reason: `memo ${DELEGATE_MEMO} of child workflow ${input.options.workflowId} must be { roles: string[] }`,
        ruleIds: [],
        policyId: null,
        policyVersion: null,
        decisionId: null,
        principal: this.run.grant?.payload.principal ?? null,
        action: 'child-workflow',
        target: input.workflowType,
      });
    }
    const artifact = await this.run.authorize({
      action: 'child-workflow',
      target: input.workflowType,
      activityId: null,
      childWorkflowId: input.options.workflowId,
      taskQueue: input.options.taskQueue ?? workflowInfo().taskQueue,
      args: input.options.args,
      delegateRoles: parsedDelegation?.data?.roles ?? null,
    });
    return next({ ...input, headers: withHeader(input.headers, HEADER_PARENT_GRANT, artifact) });
  }

  /**
   * Nexus operations have no enforcement point on the handler side yet (governed workers refuse to
   * host Nexus services), so a governed run may not start one: it would leave governance unseen.
   */
  async startNexusOperation(input: StartNexusOperationInput): Promise<StartNexusOperationOutput> {
    return this.run.failClosed({
      code: DenyCodes.nexusNotGoverned,
      reason: `Nexus operation ${input.service}/${input.operation} (endpoint ${input.endpoint}) cannot be governed yet; governed workflows may not start Nexus operations`,
      ruleIds: [],
      policyId: null,
      policyVersion: null,
      decisionId: null,
      principal: this.run.grant?.payload.principal ?? null,
      action: null,
      target: `${input.service}/${input.operation}`,
    });
  }

  async continueAsNew(input: ContinueAsNewInput, next: Next<WorkflowOutboundCallsInterceptor, 'continueAsNew'>): Promise<never> {
    const artifact = await this.run.authorize({
      action: 'continue-as-new',
      target: input.options.workflowType,
      activityId: null,
      childWorkflowId: null,
      taskQueue: input.options.taskQueue ?? workflowInfo().taskQueue,
      args: input.args,
    });
    return next({ ...input, headers: withHeader(input.headers, HEADER_PARENT_GRANT, artifact) });
  }
}

export const interceptors = (): WorkflowInterceptors => {
  const run = new RunGovernance();
  return { inbound: [new GovernanceInbound(run)], outbound: [new GovernanceOutbound(run)] };
};
