// The enforcement point: an activity inbound interceptor for every worker. The activity body never
// runs unless the artifact in its headers verifies against the trust bundle and is bound to this
// exact call. It needs nothing from the workflow side, so a worker without the workflow
// interceptors still cannot run a protected activity.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { Runtime, type ActivityExecuteInput, type ActivityInboundCallsInterceptor, type ActivityInterceptorsFactory, type Next } from '@temporalio/worker';
import { verifyArtifactForCall, type Ed25519 } from '../../src/artifact/artifact';
import type { TrustBundle } from '../../src/artifact/trust-bundle';
import { DenyCodes, HEADER_ARTIFACT } from '../../src/common/constants';
import { governanceDeniedFailure } from '../../src/common/denial';
import { decodedArgumentsDigest, ArgumentDigestError } from '../../src/common/digest';
import type { ArtifactPayload, DenialDetails } from '../../src/common/schemas';
import { nodeEd25519 } from '../../src/crypto/node';
import { DEFAULT_MAX_STALENESS_MS } from '../../src/identity/cache';
import { revocationProblem, stalenessProblem, type IdentitySnapshot } from '../../src/identity/snapshot';
import { handOffToLineage, LineageDispatcher } from '../../src/lineage/handoff';
import { lineageTaskQueue } from '../../src/lineage/schema';
import type { Outcome } from '../../src/lineage/schema';
import { observeEnforcement } from '../../src/observability/enforcement';

/** What admitted a call: its artifact, and whether it is a run grant's exemption (no claim, no outcome reports). */
interface Admission {
  readonly artifact: ArtifactPayload;
  readonly exempt: boolean;
}

function failureTypeOf(err: unknown): string {
  const type = (err as { type?: unknown })?.type;
  return typeof type === 'string' && type ? type : ((err as Error)?.name ?? 'Error');
}

export interface EnforcementOptions {
  /** Returns the current trust bundle (called per activity, so a reloaded bundle takes effect at once). */
  readonly trustBundle: () => TrustBundle;
  /** Activity types that run without an artifact. Only governance workers set this (the authorization activity). */
  readonly unprotectedActivityTypes?: readonly string[];
  readonly ed25519?: Ed25519;
  readonly now?: () => number;
  /** The newest identity snapshot (revocations); undefined when it could not be read. */
  readonly identity: () => Promise<IdentitySnapshot | undefined>;
  /** A snapshot older than this denies every protected activity (default 5 s). */
  readonly maxStalenessMs?: number;
  /**
   * How long an attempt waits for fresh identity state or a reachable claim registry before it is
   * refused (default 30 s, never past the attempt's start-to-close timeout): an outage shorter than
   * this delays the call, one longer denies it. Nothing runs while in doubt either way.
   */
  readonly outageWaitMs?: number;
  /** Governance task queue: when set, started / completed / failed are reported to lineage (on its lineage task queue, lineageTaskQueue()). */
  readonly lineageTaskQueue?: string;
  /**
   * Durable single-use registry of per-call artifacts (MongoDB `artifact_claims`): the first
   * scheduling that presents an artifact owns it; its retries are 'same', anything else 'replayed'.
   */
  readonly claimArtifact: (claim: ArtifactClaimRequest) => Promise<'claimed' | 'same' | 'replayed'>;
}

export interface ArtifactClaimRequest {
  readonly _id: string;
  readonly scheduledAt: number;
  readonly workflowId: string;
  readonly runId: string;
  readonly activityId: string;
}

function deny(code: string, reason: string, activityType: string, isLocal: boolean, principal: string | null = null): never {
  const details: DenialDetails = {
    code,
    reason,
    ruleIds: [],
    policyId: null,
    policyVersion: null,
    decisionId: null,
    principal,
    action: isLocal ? 'local-activity' : 'activity',
    target: activityType,
  };
  throw governanceDeniedFailure(details);
}

export const DEFAULT_OUTAGE_WAIT_MS = 30_000;

/** Every enforcement point's outcome dispatcher in this process (one per worker it was made for). */
const outcomeDispatchers = new Set<LineageDispatcher>();

/** Hands over the outcome reports still waiting in this process (a worker stopping), at most `ms`. */
export async function drainOutcomeReports(ms: number): Promise<void> {
  await Promise.all([...outcomeDispatchers].map((d) => d.drain(ms)));
}
const OUTAGE_POLL_MS = 250;

export function enforcementInterceptor(options: EnforcementOptions): ActivityInterceptorsFactory {
  const ed = options.ed25519 ?? nodeEd25519;
  const now = options.now ?? Date.now;
  const unprotected = new Set(options.unprotectedActivityTypes ?? []);
  const maxStalenessMs = options.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS;
  const outageWaitMs = options.outageWaitMs ?? DEFAULT_OUTAGE_WAIT_MS;
  // Outcome reports of this worker's calls, a root's together (one signal for many reports).
  let reportClient: Context['client'] | undefined;
  const reports = new LineageDispatcher({
    deliver: (rootId, signals) => handOffToLineage(reportClient!, lineageTaskQueue(options.lineageTaskQueue!), signals, rootId),
    onError: (rootId, err) => {
      try {
        Runtime.instance().logger.warn('lineage: outcome reports not delivered', { rootId, error: String(err) });
      } catch {
        // best effort
      }
    },
  });

  outcomeDispatchers.add(reports);

  return (ctx: Context) => {
    const inbound: ActivityInboundCallsInterceptor = {
      async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
        const info = ctx.info;
        if (unprotected.has(info.activityType)) return next(input);
        const observation = observeEnforcement(info, ctx.log);
        let admitted: Admission;
        try {
          admitted = await admit(input);
        } catch (err) {
          observation.refused(err);
          throw err;
        }
        observation.admitted(admitted.artifact);
        if (admitted.exempt || !options.lineageTaskQueue) return next(input);
        return runReportingOutcomes(input, next, admitted.artifact);
      },
    };

    /** Every check before the body, verification to claim; throws GovernanceDenied (or a retryable failure) if any fails. */
    async function admit(input: ActivityExecuteInput): Promise<Admission> {
      const info = ctx.info;
      if (!info.workflowExecution || !info.workflowNamespace) {
        deny(DenyCodes.artifactBindingMismatch, 'activity is not running on behalf of a workflow execution', info.activityType, info.isLocal);
      }
      const payload = input.headers[HEADER_ARTIFACT];
      if (!payload) deny(DenyCodes.artifactMissing, 'no authorization artifact in the activity headers', info.activityType, info.isLocal);
      let raw: unknown;
      try {
        raw = defaultPayloadConverter.fromPayload(payload);
      } catch {
        deny(DenyCodes.artifactMalformed, 'the authorization artifact header is not a decodable payload', info.activityType, info.isLocal);
      }
      let digest: string;
      try {
        digest = decodedArgumentsDigest(input.args);
      } catch (err) {
        if (!(err instanceof ArgumentDigestError)) throw err;
        deny(DenyCodes.artifactBindingMismatch, err.message, info.activityType, info.isLocal);
      }
      let trust: TrustBundle;
      try {
        trust = options.trustBundle();
      } catch (err) {
        deny(DenyCodes.artifactUntrustedKey, `trust bundle unavailable: ${(err as Error).message}`, info.activityType, info.isLocal);
      }
      const result = verifyArtifactForCall(
        raw,
        {
          namespace: info.workflowNamespace,
          workflowId: info.workflowExecution.workflowId,
          runId: info.workflowExecution.runId,
          activityId: info.activityId,
          activityType: info.activityType,
          taskQueue: info.taskQueue,
          isLocal: info.isLocal,
          argsDigest: digest,
          attempt: info.attempt,
          scheduledTimestampMs: info.scheduledTimestampMs,
        },
        trust,
        now(),
        ed,
      );
      if (!result.ok) deny(result.code, result.reason, info.activityType, info.isLocal);
      const artifact = result.value.artifact.payload;
      // A transient identity or store outage delays the attempt (bounded); only a longer one refuses it.
      const waitUntil = Date.now() + Math.max(0, Math.min(outageWaitMs, info.startToCloseTimeoutMs - 1_000));
      const pause = () => ctx.sleep(OUTAGE_POLL_MS);

      // Revocation is checked after the signature, so a forged artifact is reported as forged.
      let snapshot = await options.identity();
      while (stalenessProblem(snapshot, Date.now(), maxStalenessMs) && Date.now() < waitUntil) {
        await pause();
        snapshot = await options.identity();
      }
      const problem = stalenessProblem(snapshot, Date.now(), maxStalenessMs) ?? revocationProblem(artifact, snapshot!);
      if (problem) deny(problem.code, problem.reason, info.activityType, info.isLocal, artifact.principal);
      if (result.value.exempt) return { artifact, exempt: true };

      // Last check before the body: this artifact admits this scheduling only. A registry that
      // cannot answer in time fails the attempt retryably (nothing runs while in doubt).
      const claimRequest = {
        _id: artifact.id,
        scheduledAt: info.scheduledTimestampMs,
        workflowId: info.workflowExecution.workflowId,
        runId: info.workflowExecution.runId,
        activityId: info.activityId,
      };
      let claim: 'claimed' | 'same' | 'replayed' | undefined;
      for (;;) {
        try {
          claim = await options.claimArtifact(claimRequest);
          break;
        } catch (err) {
          if (Date.now() >= waitUntil) {
            throw ApplicationFailure.create({
              type: 'GovernanceClaimUnavailable',
              message: `the artifact claim registry could not be reached; the body did not run: ${(err as Error).message}`,
            });
          }
          await pause();
        }
      }
      if (claim === 'replayed') {
        deny(
          DenyCodes.artifactReplayed,
          `artifact ${artifact.id} already admitted another scheduling of activity ${info.activityId}; an artifact admits one scheduling (and its retries) only`,
          info.activityType,
          info.isLocal,
          artifact.principal,
        );
      }
      return { artifact, exempt: false };
    }

    async function runReportingOutcomes(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>, artifact: ArtifactPayload): Promise<unknown> {
      const info = ctx.info;
      // The claim (in admit) is the durable record that this scheduling started. Outcome reports are
      // evidence on top, handed over without holding the call up: one that cannot be delivered
      // (anyone can hold a lineage workflow id for a while) must not keep an authorized body from
      // running, nor add a round trip before or after it.
      reportClient = ctx.client;
      const send = (status: Outcome['status'], failureType: string | null = null) =>
        reports.send(artifact.rootId, { kind: 'outcome', id: artifact.id, outcome: { status, failureType, attempt: info.attempt, at: now() } });
      send('started');
      let value: unknown;
      try {
        value = await next(input);
      } catch (err) {
        send('failed', failureTypeOf(err));
        throw err;
      }
      send('completed');
      return value;
    }
    return { inbound };
  };
}
