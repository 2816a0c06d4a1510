// Client side of governed Schedules: a schedule created through a client with the plugin carries a
// schedule proof (signed with the client's API key, bound to the schedule id and its action) in its
// action's headers, which the server copies into every run the schedule starts. The SDK has no
// interceptor for ScheduleHandle.update (it keeps the old headers, so an update that changes the
// action leaves a proof of the old one, and the next runs are denied): updateGovernedSchedule is
// the update that signs a proof for the new action.
import { defaultPayloadConverter, type Headers, type Workflow } from '@temporalio/common';
import type {
  CreateScheduleInput,
  ScheduleClientInterceptor,
  ScheduleDescription,
  ScheduleHandle,
  ScheduleOptionsStartWorkflowAction,
  ScheduleUpdateOptions,
} from '@temporalio/client';
import { compileUpdatedScheduleOptions } from '@temporalio/client/lib/schedule-helpers';
import type { CompiledScheduleAction, CompiledScheduleUpdateOptions } from '@temporalio/client/lib/schedule-types';
import { HEADER_SCHEDULE_PROOF } from '../../src/common/constants';
import { argumentsDigest } from '../../src/common/digest';
import { parseApiKey, type ParsedApiKey } from '../../src/identity/api-key';
import { signScheduleProof } from '../../src/identity/schedule-proof';

export class GovernedScheduleError extends Error {
  override readonly name = 'GovernedScheduleError';
}

function proofHeader(key: ParsedApiKey, namespace: string, scheduleId: string, action: CompiledScheduleAction) {
  if (action.type !== 'startWorkflow') throw new GovernedScheduleError(`schedule ${scheduleId}: only startWorkflow actions can be governed, not ${String(action.type)}`);
  return defaultPayloadConverter.toPayload(
    signScheduleProof(key, {
      namespace,
      scheduleId,
      workflowId: action.workflowId,
      workflowType: action.workflowType,
      taskQueue: action.taskQueue,
      argsDigest: argumentsDigest(action.args ?? []),
    }),
  );
}

/** Attaches a schedule proof to every schedule this client creates (GovernancePlugin registers it). */
export function scheduleProofInterceptor(apiKey: string, namespace: string): ScheduleClientInterceptor {
  const key = parseApiKey(apiKey); // throws ApiKeyError (without the key) on a malformed key
  return {
    create: async (input: CreateScheduleInput, next) =>
      next({ ...input, headers: { ...input.headers, [HEADER_SCHEDULE_PROOF]: proofHeader(key, namespace, input.options.scheduleId, input.options.action) } }),
  };
}

/** The SDK's own update request (ScheduleClient._updateSchedule, protected): spec, action, policies, state and headers. */
type ScheduleUpdater = (scheduleId: string, options: CompiledScheduleUpdateOptions, header: Headers) => Promise<unknown>;

/**
 * `handle.update(updateFn)` for a governed schedule: the same update, with a schedule proof for the
 * new action signed with `apiKey` (the key of the principal the schedule's runs act for; normally
 * the one given to GovernancePlugin). Other headers of the action are kept, as `handle.update`
 * keeps them. Use it for every update that changes the action (workflow type, id, task queue or
 * arguments); `handle.update` is enough for one that changes only the spec, policies or state.
 */
export async function updateGovernedSchedule<W extends Workflow = Workflow>(
  handle: ScheduleHandle,
  apiKey: string,
  updateFn: (previous: ScheduleDescription) => ScheduleUpdateOptions<ScheduleOptionsStartWorkflowAction<W>>,
): Promise<void> {
  const key = parseApiKey(apiKey);
  const updater = (handle.client as unknown as { _updateSchedule?: ScheduleUpdater })._updateSchedule;
  if (typeof updater !== 'function') throw new GovernedScheduleError('this @temporalio/client has no ScheduleClient._updateSchedule; updateGovernedSchedule needs the SDK version the plugin was built for');
  const current = await handle.describe();
  const compiled = compileUpdatedScheduleOptions(handle.scheduleId, updateFn(current));
  const header: Headers = {
    ...(current.raw.schedule?.action?.startWorkflow?.header?.fields ?? {}),
    [HEADER_SCHEDULE_PROOF]: proofHeader(key, handle.client.options.namespace, handle.scheduleId, compiled.action),
  };
  await updater.call(handle.client, handle.scheduleId, compiled, header);
}
