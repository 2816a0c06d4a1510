// Workflow interceptors: the sandbox entry point (register with `workflowModules`). Only
// deterministic, Node-free code is reachable from here.
//
// Every run first obtains its run grant (action `workflow`), then every activity, local activity,
// child workflow start and continue-as-new is authorized by the authorization activity on the
// governance task queue before it is scheduled. A denial upserts the governance search attributes
// and fails the workflow closed. Every signal and update is authorized (action `signal` / `update`,
// on the sender's proof) before its handler runs; a denied message is dropped (signal) or failed
// (update), and the run goes on.
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
  log,
  proxyActivities,
  proxyLocalActivities,
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
  type SignalInput,
  type SignalWorkflowInput,
  type UpdateInput,
} from '@temporalio/workflow';
import {
  AUTHORIZE_ACTIVITY,
  DIRECT_AUTHORIZE_ACTIVITY,
  DenyCodes,
  GOVERNANCE_DENIED,
  HEADER_ARTIFACT,
  HEADER_MESSAGE_PROOF,
  HEADER_PARENT_GRANT,
  HEADER_SENDER_GRANT,
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
import { messageProofMismatch, SignedMessageProofSchema } from '../../src/identity/message-proof-schema';
import { payloadHash, verifySignedArtifact } from '../../src/artifact/artifact';
import type { TrustBundle } from '../../src/artifact/trust-bundle';
import { fromBase64Url } from '../../src/common/base64url';
import { decisionIdOf } from '../../src/common/decision-id';
import { nobleEd25519 } from '../../src/crypto/noble';

// GovernancePlugin looks for this string in prebuilt bundles (see marker.ts).
export { WORKFLOW_INTERCEPTORS_MARKER } from './marker';

declare const __TEMPORAL_GOVERNANCE_WORKFLOW_CONFIG__: Partial<WorkflowGovernanceConfig> | undefined;

const config = resolveWorkflowConfig(
  typeof __TEMPORAL_GOVERNANCE_WORKFLOW_CONFIG__ === 'undefined' ? undefined : __TEMPORAL_GOVERNANCE_WORKFLOW_CONFIG__,
);

/** The keys a message decision must verify against (baked in by the plugin; see workflow-config.ts). */
const trust: TrustBundle = {
  keys: new Map(config.trustedKeys.map((k) => [k.kid, { kid: k.kid, publicKey: fromBase64Url(k.x), notBefore: k.notBefore, notAfter: k.notAfter }])),
};

const decisionKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.decision, SearchAttributeType.KEYWORD);
const denyCodeKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.denyCode, SearchAttributeType.KEYWORD);
const policyVersionKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.policyVersion, SearchAttributeType.KEYWORD);
const principalKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.principal, SearchAttributeType.KEYWORD);

/** What the UI shows for one authorization: `activity chargeCard #5`, `child-workflow payInvoice`. */
function describeCall(call: { action: Action; target: string; activityId: string | null; childWorkflowId: string | null; messageId?: string | null }): string {
  const id = call.activityId ? ` #${call.activityId}` : call.childWorkflowId ? ` ${call.childWorkflowId}` : call.messageId ? ` ${call.messageId}` : '';
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

interface GovernedCall {
  action: Action;
  target: string;
  activityId: string | null;
  childWorkflowId: string | null;
  messageId?: string | null;
  taskQueue: string;
  args: readonly unknown[];
  proof?: unknown;
  delegateRoles?: string[] | null;
  parent?: unknown;
}

type Decision = { readonly artifact: SignedArtifact } | { readonly denied: DenialDetails };

/** Per-run governance state; the factory below runs once per workflow run. */
class RunGovernance {
  grant: SignedArtifact | undefined;
  denial: ApplicationFailure | undefined;
  /** Settles with the run grant once execute has it: messages wait for it (it is their parent). */
  readonly grantReady: Promise<SignedArtifact>;
  settleGrant!: { resolve: (grant: SignedArtifact) => void; reject: (err: unknown) => void };
  private rejectRun: ((err: ApplicationFailure) => void) | undefined;
  /** Rejects when any call of this run is denied, so strict mode can fail the run even if code catches. */
  readonly denied: Promise<never> | undefined;

  constructor() {
    this.grantReady = new Promise<SignedArtifact>((resolve, reject) => {
      this.settleGrant = { resolve, reject };
    });
    this.grantReady.catch(() => undefined); // observed by the message handlers that wait for it
    if (config.strict) {
      this.denied = new Promise<never>((_, reject) => {
        this.rejectRun = reject;
      });
      this.denied.catch(() => undefined); // observed through Promise.race in execute
    }
  }

  /** The authorization activity, with a summary naming the call so the event history reads by itself. */
  private authorizeActivity(summary: string, action: Action): (request: AuthorizationRequest) => Promise<unknown> {
    // The run grant (once per run) always comes from the authorization activity, whose caller the
    // server sets: a local activity re-run after a lost workflow task would ask under a new
    // scheduled time, and a run holds exactly one grant.
    if (config.direct && action !== 'workflow') {
      // One attempt, which retries by itself until the authorization timeout (local-activity.ts):
      // its retries keep one first scheduled time, the decision's issue time.
      return proxyLocalActivities<Record<string, (request: AuthorizationRequest) => Promise<unknown>>>({
        startToCloseTimeout: config.authorizationTimeoutMs,
        retry: { maximumAttempts: 1 },
        summary: `authorize ${summary}`,
      })[DIRECT_AUTHORIZE_ACTIVITY]!;
    }
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
  async authorize(call: GovernedCall): Promise<SignedArtifact> {
    if (this.denial) throw this.denial; // after a denial this run authorizes nothing more
    const decision = await this.decide(call);
    if ('denied' in decision) return this.failClosed(decision.denied);
    return decision.artifact;
  }

  /**
   * A signal's or update's decision, on the sender's proof, once the run holds its grant (the
   * message's parent). A denial here does not fail the run: the message is refused, the run goes on.
   */
  async authorizeMessage(message: { kind: 'signal' | 'update'; name: string; messageId: string; args: readonly unknown[]; proof: unknown }): Promise<Decision> {
    const base = { ruleIds: [], policyId: null, policyVersion: null, decisionId: null, principal: null, action: message.kind, target: message.name };
    let grant: SignedArtifact;
    try {
      grant = await this.grantReady;
    } catch {
      return { denied: { ...base, code: DenyCodes.invalidGrant, reason: `the run holds no grant, so no ${message.kind} can be admitted` } };
    }
    if (this.denial) {
      const details = DenialDetailsSchema.safeParse(this.denial.details?.[0]);
      return { denied: { ...base, code: details.success ? details.data.code : DenyCodes.policyDeny, reason: `the run was denied (${this.denial.message}); it admits nothing more` } };
    }
    const decision = await this.decide({
      action: message.kind,
      target: message.name,
      activityId: null,
      childWorkflowId: null,
      messageId: message.messageId,
      taskQueue: workflowInfo().taskQueue,
      args: message.args,
      proof: message.proof,
      parent: grant,
    });
    if ('denied' in decision) return decision;
    // Nothing checks this decision after the sandbox: anyone who can complete the authorization
    // activity (a rogue poller of the governance queue, a client completing it by id) could answer
    // "allow". Only an artifact governance signed for exactly this message admits it.
    const problem = messageArtifactProblem(decision.artifact, grant, message);
    return problem ? { denied: { ...base, code: DenyCodes.invalidResponse, reason: `the answer to this ${message.kind} is not a decision governance signed for it: ${problem}` } } : decision;
  }

  /** Records a refused message where operators look: search attributes, the worker log. */
  refuseMessage(details: DenialDetails): void {
    log.warn(`governance: ${details.action} ${details.target} refused: ${details.code}: ${details.reason}`, { governanceDenial: details });
    if (this.denial) return; // the run's own denial already names it
    upsertSearchAttributes([
      { key: decisionKey, value: 'message-denied' },
      { key: denyCodeKey, value: details.code },
      { key: policyVersionKey, value: details.policyVersion ?? 'none' },
    ]);
  }

  private async decide(call: GovernedCall): Promise<Decision> {
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
      return { denied: { ...base, principal, code: DenyCodes.malformedRequest, reason: `the arguments have no digest: ${err.message}` } };
    }
    const request: AuthorizationRequest = {
      v: 2,
      action: call.action,
      target: call.target,
      activityId: call.activityId,
      childWorkflowId: call.childWorkflowId,
      messageId: call.messageId ?? null,
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
    setCurrentDetails(`governance: waiting for authorization of ${what} (${config.direct && call.action !== 'workflow' ? 'asked directly' : `task queue ${config.taskQueue}`})`);
    let raw: unknown;
    try {
      raw = await this.authorizeActivity(what, call.action)(request);
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const malformed = cause instanceof ApplicationFailure && cause.type === 'GovernanceMalformedRequest';
      // Retried until the authorization timeout; the last attempt's failure is the timeout's cause.
      const stale = failureOfType(cause, IDENTITY_STALE_FAILURE);
      setCurrentDetails(previousDetails);
      return {
        denied: {
          ...base,
          principal,
          code: malformed ? DenyCodes.malformedRequest : stale ? DenyCodes.identityStateStale : DenyCodes.governanceUnavailable,
          reason: malformed
            ? `the authorization request was rejected: ${cause.message}`
            : stale
              ? `${stale.message} (for longer than the authorization timeout)`
              : `authorization did not complete (${(cause as Error | undefined)?.message ?? 'unknown error'}); denied, never allowed`,
        },
      };
    }
    setCurrentDetails(previousDetails);
    const result = AuthorizationResultSchema.safeParse(raw);
    if (!result.success) return { denied: { ...base, principal, code: DenyCodes.invalidResponse, reason: 'the authorization activity returned an unparseable result' } };
    if (result.data.decision === 'deny') return { denied: denialDetailsFromPayload(result.data.denial.payload) };
    return { artifact: result.data.artifact };
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
  /** Signals this run received, so each has an id of its own (signals carry none). */
  private signals = 0;
  /** Handlers start in the order their messages arrived, whatever order their decisions come back in. */
  private turns: Promise<unknown> = Promise.resolve();

  constructor(private readonly run: RunGovernance) {}

  /**
   * The body starts at once, beside the run grant's authorization, so that it registers its signal
   * and update handlers in the first activation (an update that finds no handler there is
   * rejected). It can do nothing governed before the grant: every outbound call waits for it, and
   * the run cannot complete without it.
   */
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const info = workflowInfo();
    const granted = this.run
      .authorize({
        action: 'workflow',
        target: info.workflowType,
        activityId: null,
        childWorkflowId: null,
        taskQueue: info.taskQueue,
        args: input.args,
        proof: readHeader(input.headers, HEADER_START_PROOF) ?? null,
        parent: readHeader(input.headers, HEADER_PARENT_GRANT) ?? null,
      })
      .then(
        (grant) => {
          this.run.grant = grant;
          this.run.settleGrant.resolve(grant);
        },
        (err: unknown) => {
          this.run.settleGrant.reject(err);
          throw err;
        },
      );
    const body = next(input);
    // No result without the grant; a denied grant fails the run even while the body still waits.
    const completed = Promise.all([granted, body]).then(([, result]) => result);
    return this.run.denied ? Promise.race([completed, this.run.denied]) : completed;
  }

  private inTurn(decision: Promise<Decision>): Promise<Decision> {
    const turn = this.turns.then(() => decision);
    this.turns = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  /** A signal reaches its handler only once governance admitted it; a refused one is dropped. */
  async handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    this.signals += 1;
    const decision = await this.inTurn(
      this.run.authorizeMessage({
        kind: 'signal',
        name: input.signalName,
        messageId: `signal-${this.signals}`,
        args: input.args,
        // A client's message proof, or the run grant of a workflow that sent it (governance reads which from the server's record).
        proof: readHeader(input.headers, HEADER_MESSAGE_PROOF) ?? readHeader(input.headers, HEADER_SENDER_GRANT) ?? null,
      }),
    );
    if ('denied' in decision) {
      if (decision.denied.failWorkflow) return this.run.failClosed(decision.denied);
      return this.run.refuseMessage(decision.denied);
    }
    return next(input);
  }

  /**
   * Runs only for updates whose handler has a validator (the SDK skips validation otherwise): what
   * can be checked without governance is checked here, so a malformed or missing proof rejects
   * the update before it is accepted into history.
   */
  validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>): void {
    const problem = messageProofProblem(input);
    if (problem) throw governanceDeniedFailure({ code: problem.code, reason: problem.reason, ruleIds: [], policyId: null, policyVersion: null, decisionId: null, principal: null, action: 'update', target: input.name });
    next(input);
  }

  /** An update's handler runs only once governance admitted it; a refused one fails with GovernanceDenied. */
  async handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    const decision = await this.inTurn(
      this.run.authorizeMessage({ kind: 'update', name: input.name, messageId: input.updateId, args: input.args, proof: readHeader(input.headers, HEADER_MESSAGE_PROOF) ?? null }),
    );
    if ('denied' in decision) {
      if (decision.denied.failWorkflow) this.run.failClosed(decision.denied);
      this.run.refuseMessage(decision.denied);
      throw governanceDeniedFailure(decision.denied);
    }
    return next(input);
  }
}

/**
 * Why an allow for a message does not admit it, or null: the artifact and the run grant verify
 * against the baked-in keys, the grant is this run's, and the artifact is governance's decision on
 * this very message (decision id, action, name, arguments, run) with that grant as parent.
 */
function messageArtifactProblem(artifact: SignedArtifact, grant: SignedArtifact, message: { kind: 'signal' | 'update'; name: string; messageId: string; args: readonly unknown[] }): string | null {
  const info = workflowInfo();
  const now = Date.now(); // workflow time: deterministic on replay
  const grantCheck = verifySignedArtifact(grant, trust, now, nobleEd25519);
  if (!grantCheck.ok) return `the run grant does not verify (${grantCheck.reason})`;
  const g = grantCheck.value.payload;
  if (g.action !== 'workflow' || g.namespace !== info.namespace || g.workflowId !== info.workflowId || g.runId !== info.runId) return 'the run grant is not this run\'s';
  const verified = verifySignedArtifact(artifact, trust, now, nobleEd25519);
  if (!verified.ok) return verified.reason;
  const p = verified.value.payload;
  const decisionId = decisionIdOf({ action: message.kind, activityId: null, childWorkflowId: null, messageId: message.messageId }, info);
  const expected: Array<[string, unknown, unknown]> = [
    ['action', p.action, message.kind],
    ['target', p.target, message.name],
    ['namespace', p.namespace, info.namespace],
    ['workflowId', p.workflowId, info.workflowId],
    ['runId', p.runId, info.runId],
    ['decisionId', p.decisionId, decisionId],
    ['argsDigest', p.argsDigest, argumentsDigest(message.args)],
    ['parent', p.parent?.id, g.id],
    ['parent hash', p.parent?.hash, payloadHash(g)],
    ['rootId', p.rootId, g.rootId],
  ];
  for (const [field, actual, wanted] of expected) if (actual !== wanted) return `its ${field} is not this message's`;
  return null;
}

/** The checks on an update's proof that need no governance (governance repeats them on the server's record). */
function messageProofProblem(input: UpdateInput): { code: string; reason: string } | null {
  const raw = readHeader(input.headers, HEADER_MESSAGE_PROOF);
  if (raw === undefined) return { code: DenyCodes.unauthenticated, reason: `the update ${JSON.stringify(input.name)} was sent without an API key proof (send it through a client with GovernancePlugin, or \`temporal-governance workflow update\`)` };
  const parsed = SignedMessageProofSchema.safeParse(raw);
  if (!parsed.success) return { code: DenyCodes.invalidProof, reason: 'malformed update proof' };
  const p = parsed.data.payload;
  const info = workflowInfo();
  let digest: string;
  try {
    digest = argumentsDigest(input.args);
  } catch {
    return { code: DenyCodes.malformedRequest, reason: 'the update arguments have no digest' };
  }
  const mismatch = messageProofMismatch(p, { kind: 'update', namespace: info.namespace, workflowId: info.workflowId, runId: info.runId, name: input.name, updateId: input.updateId, argsDigest: digest });
  if (mismatch) return { code: DenyCodes.invalidProof, reason: `the update proof is bound to another ${mismatch.field}` };
  return null;
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
    await this.run.grantReady;
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
    if (config.direct && input.activityType === DIRECT_AUTHORIZE_ACTIVITY) return next(input); // recursion guard (direct authorization)
    await this.run.grantReady;
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
    await this.run.grantReady;
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

  /** A signal to another workflow carries this run's grant: its receiver admits it on this run's authority. */
  async signalWorkflow(input: SignalWorkflowInput, next: Next<WorkflowOutboundCallsInterceptor, 'signalWorkflow'>): Promise<void> {
    const grant = await this.run.grantReady;
    return next({ ...input, headers: withHeader(input.headers, HEADER_SENDER_GRANT, grant) });
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
    await this.run.grantReady;
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
