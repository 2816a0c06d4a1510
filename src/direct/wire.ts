// The wire format between an application worker's direct-authorization local activity and a
// governance worker's endpoint (docs/direct-authorization.md). Node-free.
import { z } from 'zod';
import { canonicalize } from '../common/canonical';
import { sha256Hex } from '../common/digest';
import { SignedWorkerRequestSchema } from '../identity/schema';

/** `POST /v1/authorize`: the authorization request (parsed by governance like the activity's input) and the worker's signature over it. */
export const DirectAuthorizeBodySchema = z.object({ request: z.unknown(), proof: SignedWorkerRequestSchema }).strict();
export type DirectAuthorizeBody = z.infer<typeof DirectAuthorizeBodySchema>;

/** A failure the local activity rethrows as an ApplicationFailure of the same type, so the workflow reads it as it reads the authorization activity's. */
export const DirectFailureSchema = z.object({ type: z.string().min(1), message: z.string(), nonRetryable: z.boolean() }).strict();
export type DirectFailure = z.infer<typeof DirectFailureSchema>;

/** The decision (an AuthorizationResult, which the workflow parses), or why there is none. */
export const DirectAuthorizeResponseSchema = z.union([z.object({ result: z.unknown() }).strict(), z.object({ failure: DirectFailureSchema }).strict()]);
export type DirectAuthorizeResponse = z.infer<typeof DirectAuthorizeResponseSchema>;

export const DIRECT_AUTHORIZE_PATH = '/v1/authorize';

/** What the worker's signature covers of the request: `sha256:` + hex SHA-256 of its JCS form. */
export function requestDigest(request: unknown): string {
  return `sha256:${sha256Hex(canonicalize(request))}`;
}
