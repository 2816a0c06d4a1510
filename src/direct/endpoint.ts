// The governance worker's direct-authorization endpoint (createGovernanceWorker's
// `directAuthorization` option, the CLI's --direct-port): POST /v1/authorize on a Fastify app of its
// own. It answers application workers whose authorization local activity signs each request with a
// worker API key (worker-request.ts); everything else is refused before any decision is made.
// Plain HTTP is for loopback only: requests carry call arguments, so any other bind needs TLS.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DIRECT_AUTHORIZE_PATH, DirectAuthorizeBodySchema, type DirectAuthorizeBody, type DirectAuthorizeResponse } from './wire';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export const DirectEndpointOptionsSchema = z
  .object({
    /** Port to listen on (0: any free port; the bound one is in `directEndpointUrl(worker)`). */
    port: z.number().int().min(0).max(65_535),
    /** Address to bind (default 127.0.0.1). Any other address requires `tls`. */
    host: z.string().min(1).default('127.0.0.1'),
    /** PEM files of the endpoint's certificate and private key. */
    tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).strict().optional(),
    /**
     * How long before now an authorization local activity may have been first scheduled (its
     * retries keep that time, the decision's issue time). Default: 10 minutes; keep the workflows'
     * authorizationTimeoutMs below it.
     */
    maxScheduledAgeMs: z.number().int().positive().default(600_000),
  })
  .strict()
  .refine((o) => o.tls !== undefined || LOOPBACK.has(o.host), {
    message: 'a direct-authorization endpoint on a non-loopback address needs tls: { certFile, keyFile } (requests carry call arguments)',
    path: ['tls'],
  });
export type DirectEndpointOptions = z.input<typeof DirectEndpointOptionsSchema>;
export type ResolvedDirectEndpointOptions = z.output<typeof DirectEndpointOptionsSchema>;

export class DirectEndpointError extends Error {
  override readonly name = 'DirectEndpointError';
}

export function parseDirectEndpointOptions(input: unknown): ResolvedDirectEndpointOptions {
  const parsed = DirectEndpointOptionsSchema.safeParse(input);
  if (!parsed.success) throw new DirectEndpointError(`directAuthorization: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export interface DirectEndpoint {
  readonly url: string;
  close(): Promise<void>;
}

/** Requests carry the call's arguments: as much as a Temporal payload may hold, and some room. */
const BODY_LIMIT = 4 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_CONNECTIONS = 1_024;
/** Like the authorization activity's slots (maxConcurrentActivityTaskExecutions, default 200). */
const MAX_IN_FLIGHT = 200;

export async function startDirectEndpoint(options: ResolvedDirectEndpointOptions, handle: (body: DirectAuthorizeBody) => Promise<DirectAuthorizeResponse>): Promise<DirectEndpoint> {
  let https: { cert: Buffer; key: Buffer } | null = null;
  if (options.tls) {
    try {
      https = { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) };
    } catch (err) {
      throw new DirectEndpointError(`directAuthorization.tls: cannot read ${(err as NodeJS.ErrnoException).path ?? 'a PEM file'}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  // A slow or idle peer cannot hold the process (it also runs the authorization activity): every
  // request has a deadline, connections are capped, and so are decisions in flight.
  const limits = { logger: false, bodyLimit: BODY_LIMIT, requestTimeout: REQUEST_TIMEOUT_MS, connectionTimeout: REQUEST_TIMEOUT_MS };
  const app: FastifyInstance = (https ? Fastify({ https, ...limits }) : Fastify(limits)) as FastifyInstance;
  app.server.maxConnections = MAX_CONNECTIONS;
  let inFlight = 0;
  app.post(DIRECT_AUTHORIZE_PATH, async (req, reply) => {
    if (inFlight >= MAX_IN_FLIGHT) {
      return reply.code(503).send({ failure: { type: 'GovernanceUnavailable', nonRetryable: false, message: `this governance worker is deciding ${MAX_IN_FLIGHT} direct requests already` } } satisfies DirectAuthorizeResponse);
    }
    const parsed = DirectAuthorizeBodySchema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return reply.code(400).send({
        failure: { type: 'GovernanceMalformedRequest', nonRetryable: true, message: `malformed direct authorization request: ${issue ? `${issue.path.join('.') || '<root>'}: ${issue.message}` : 'invalid'}` },
      } satisfies DirectAuthorizeResponse);
    }
    inFlight += 1;
    try {
      const response = await handle(parsed.data);
      return await reply.code('failure' in response ? failureStatus(response.failure.type) : 200).send(response);
    } finally {
      inFlight -= 1;
    }
  });
  // Error pages say what failed, never how (no stack, no internals).
  app.setErrorHandler((err: { statusCode?: number; message?: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    void reply.code(status).send({ failure: { type: status < 500 ? 'GovernanceMalformedRequest' : 'GovernanceEndpointError', nonRetryable: status < 500, message: status < 500 ? (err.message ?? 'bad request') : 'the endpoint failed' } });
  });
  app.setNotFoundHandler((_req, reply) => void reply.code(404).send({ failure: { type: 'GovernanceMalformedRequest', nonRetryable: true, message: `only POST ${DIRECT_AUTHORIZE_PATH} is served here` } }));
  try {
    await app.listen({ port: options.port, host: options.host });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new DirectEndpointError(`directAuthorization: cannot listen on ${options.host}:${options.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `${https ? 'https' : 'http'}://${host}:${port}`, close: () => app.close() };
}

function failureStatus(type: string): number {
  if (type === 'GovernanceMalformedRequest') return 400;
  if (type === 'GovernanceWorkerUnauthenticated') return 401;
  return 503;
}
