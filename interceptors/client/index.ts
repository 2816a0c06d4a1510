// Client side: proves, with an API key, the authority under which each workflow starts and each
// signal or update is sent. A start proof is bound to that start (namespace, workflow id, type,
// task queue, argument digest, time); a message proof to that message (workflow, run when known,
// handler name, update id, argument digest, time). A proof copied from history admits nothing else,
// and the key itself never leaves this process.
import { randomUUID } from 'node:crypto';
import { defaultPayloadConverter, type Headers } from '@temporalio/common';
import type {
  WorkflowClientInterceptor,
  WorkflowSignalInput,
  WorkflowSignalWithStartInput,
  WorkflowStartInput,
  WorkflowStartUpdateInput,
  WorkflowStartUpdateWithStartInput,
} from '@temporalio/client';
import { HEADER_MESSAGE_PROOF, HEADER_START_PROOF } from '../../src/common/constants';
import { argumentsDigest } from '../../src/common/digest';
import { parseApiKey, signMessageProof, signStartProof, type ProvenMessage } from '../../src/identity/api-key';

export function startProofInterceptor(apiKey: string, namespace: string): WorkflowClientInterceptor {
  const key = parseApiKey(apiKey); // throws ApiKeyError (without the key) on a malformed key
  const proofFor = (workflowType: string, options: { workflowId: string; taskQueue: string; args?: unknown[] }) =>
    defaultPayloadConverter.toPayload(
      signStartProof(key, { namespace, workflowId: options.workflowId, workflowType, taskQueue: options.taskQueue, argsDigest: argumentsDigest(options.args ?? []) }),
    );
  const messageProof = (message: Omit<ProvenMessage, 'namespace' | 'argsDigest'>, args: readonly unknown[]) =>
    defaultPayloadConverter.toPayload(signMessageProof(key, { ...message, namespace, argsDigest: argumentsDigest(args) }));
  const withMessageProof = (headers: Headers, message: Omit<ProvenMessage, 'namespace' | 'argsDigest'>, args: readonly unknown[]): Headers => ({
    ...headers,
    [HEADER_MESSAGE_PROOF]: messageProof(message, args),
  });
  return {
    startWithDetails: (input: WorkflowStartInput, next) =>
      next({ ...input, headers: { ...input.headers, [HEADER_START_PROOF]: proofFor(input.workflowType, input.options) } }),
    signal: (input: WorkflowSignalInput, next) =>
      next({
        ...input,
        headers: withMessageProof(
          input.headers,
          { kind: 'signal', workflowId: input.workflowExecution.workflowId, runId: input.workflowExecution.runId || null, name: input.signalName, updateId: null },
          input.args,
        ),
      }),
    // One header set reaches both the started and the signaled event: both proofs travel in it.
    signalWithStart: (input: WorkflowSignalWithStartInput, next) =>
      next({
        ...input,
        headers: withMessageProof(
          { ...input.headers, [HEADER_START_PROOF]: proofFor(input.workflowType, input.options) },
          { kind: 'signal', workflowId: input.options.workflowId, runId: null, name: input.signalName, updateId: null },
          input.signalArgs,
        ),
      }),
    startUpdate: (input: WorkflowStartUpdateInput, next) => {
      // The proof names the update id, so the id is fixed here rather than by the SDK after us.
      const updateId = input.options.updateId ?? randomUUID();
      return next({
        ...input,
        options: { ...input.options, updateId },
        headers: withMessageProof(
          input.headers,
          { kind: 'update', workflowId: input.workflowExecution.workflowId, runId: input.workflowExecution.runId || null, name: input.updateName, updateId },
          input.args,
        ),
      });
    },
    startUpdateWithStart: (input: WorkflowStartUpdateWithStartInput, next) => {
      const updateId = input.updateOptions.updateId ?? randomUUID();
      return next({
        ...input,
        workflowStartHeaders: { ...input.workflowStartHeaders, [HEADER_START_PROOF]: proofFor(input.workflowType, input.workflowStartOptions) },
        updateOptions: { ...input.updateOptions, updateId },
        updateHeaders: withMessageProof(
          input.updateHeaders,
          { kind: 'update', workflowId: input.workflowStartOptions.workflowId, runId: null, name: input.updateName, updateId },
          input.updateArgs,
        ),
      });
    },
  };
}
