// Client side: names the principal on whose authority a workflow starts. The governance worker
// looks the principal up; identity proofs replace this claim when API keys land.
import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowClientInterceptor, WorkflowStartInput, WorkflowSignalWithStartInput } from '@temporalio/client';
import { HEADER_PRINCIPAL } from '../../src/common/constants';
import { PrincipalHeaderSchema } from '../../src/common/schemas';

export function principalInterceptor(principal: string): WorkflowClientInterceptor {
  const header = defaultPayloadConverter.toPayload(PrincipalHeaderSchema.parse({ principal }));
  return {
    startWithDetails: (input: WorkflowStartInput, next) => next({ ...input, headers: { ...input.headers, [HEADER_PRINCIPAL]: header } }),
    signalWithStart: (input: WorkflowSignalWithStartInput, next) =>
      next({ ...input, headers: { ...input.headers, [HEADER_PRINCIPAL]: header } }),
  };
}
