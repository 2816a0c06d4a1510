// Client side: proves, with an API key, the authority under which each workflow starts. The proof
// is bound to that start (namespace, workflow id, type, task queue, argument digest, time), so a proof copied
// from history cannot start anything else; the key itself never leaves this process.
import { defaultPayloadConverter } from '@temporalio/common';
import type {
  WorkflowClientInterceptor,
  WorkflowSignalWithStartInput,
  WorkflowStartInput,
  WorkflowStartUpdateWithStartInput,
} from '@temporalio/client';
import { HEADER_START_PROOF } from '../../src/common/constants';
import { argumentsDigest } from '../../src/common/digest';
import { parseApiKey, signStartProof } from '../../src/identity/api-key';

export function startProofInterceptor(apiKey: string, namespace: string): WorkflowClientInterceptor {
  const key = parseApiKey(apiKey); // throws ApiKeyError (without the key) on a malformed key
  const proofFor = (workflowType: string, options: { workflowId: string; taskQueue: string; args?: unknown[] }) =>
    defaultPayloadConverter.toPayload(
      signStartProof(key, { namespace, workflowId: options.workflowId, workflowType, taskQueue: options.taskQueue, argsDigest: argumentsDigest(options.args ?? []) }),
    );
  return {
    startWithDetails: (input: WorkflowStartInput, next) =>
      next({ ...input, headers: { ...input.headers, [HEADER_START_PROOF]: proofFor(input.workflowType, input.options) } }),
    signalWithStart: (input: WorkflowSignalWithStartInput, next) =>
      next({ ...input, headers: { ...input.headers, [HEADER_START_PROOF]: proofFor(input.workflowType, input.options) } }),
    startUpdateWithStart: (input: WorkflowStartUpdateWithStartInput, next) =>
      next({
        ...input,
        workflowStartHeaders: { ...input.workflowStartHeaders, [HEADER_START_PROOF]: proofFor(input.workflowType, input.workflowStartOptions) },
      }),
  };
}
