// The console's HTTP app: Fastify, read-only, one route plugin per area (routes/*.ts). Every error a
// request can cause ends as a clear page or JSON error, never a stack trace.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isAuthorized, PUBLIC_PATHS, sessionCookieHeader, tokenMatches } from './auth';
import { BROWSER_BUNDLES, browserBundle } from './browser-build';
import type { ConsoleContext } from './context';
import { sendPage } from './render';
import { explorerRoutes } from './routes/explorer';
import { healthRoutes } from './routes/health';
import { proofRoutes } from './routes/proof';

/** A request the console refuses on purpose (bad id, bad filter, pasted junk): its message is shown as is. */
export class ConsoleInputError extends Error {
  override readonly name = 'ConsoleInputError';
  constructor(
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
  }
}

/**
 * The files under assets/ the console serves: a fixed list, so nothing else in that folder is ever
 * reachable. A name in BROWSER_BUNDLES is an esbuild bundle (browser-build.ts), not a file of the folder.
 */
export const ASSETS = new Map<string, string>([
  ['console.css', 'text/css; charset=utf-8'],
  ['explorer.css', 'text/css; charset=utf-8'],
  ['explorer.js', 'text/javascript; charset=utf-8'],
  ['proof.css', 'text/css; charset=utf-8'],
  ['proof-viewer.js', 'text/javascript; charset=utf-8'],
]);

const wantsJson = (request: FastifyRequest) => {
  const path = request.url.split('?')[0]!;
  return path.startsWith('/api/') || path === '/readyz' || path === '/healthz';
};

function sendError(request: FastifyRequest, reply: FastifyReply, status: number, heading: string, message: string): FastifyReply {
  if (wantsJson(request)) return reply.code(status).send({ error: heading, message });
  return sendPage(reply, 'error', { title: heading, heading, message }, status);
}

export async function createConsoleApp(ctx: ConsoleContext): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    const token = ctx.options.token;
    if (token === undefined || PUBLIC_PATHS.has(request.url.split('?')[0]!) || isAuthorized(request, token)) return;
    reply.header('www-authenticate', 'Bearer');
    if (wantsJson(request)) return sendError(request, reply, 401, 'Unauthorized', 'this console requires a bearer token (Authorization: Bearer <token>)');
    return sendPage(reply, 'login', { title: 'Sign in', failed: false }, 401);
  });

  // Browsers sign in once with the token (a form post); API clients send it as a bearer token.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))));
  app.get('/login', async (_request, reply) => sendPage(reply, 'login', { title: 'Sign in', failed: false, open: ctx.options.token === undefined }));
  app.post('/login', async (request, reply) => {
    const token = ctx.options.token;
    if (token === undefined) return reply.redirect('/', 303);
    const given = (request.body as { token?: unknown } | undefined)?.token;
    if (typeof given !== 'string' || !tokenMatches(given, token)) return sendPage(reply, 'login', { title: 'Sign in', failed: true }, 401);
    return reply.header('set-cookie', sessionCookieHeader(token)).redirect('/', 303);
  });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ConsoleInputError) return sendError(request, reply, error.statusCode, 'Bad request', error.message);
    const status = typeof (error as { statusCode?: unknown }).statusCode === 'number' ? (error as { statusCode: number }).statusCode : 500;
    // Fastify's own 4xx (malformed JSON body, body too large, ...): their messages name no internals.
    if (status < 500) return sendError(request, reply, status, 'Bad request', (error as Error).message);
    // The details stay out of the response: they may name hosts, documents or internals.
    request.log.error(error);
    return sendError(request, reply, 500, 'Internal error', 'the console could not answer this request; see its log');
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, 404, 'Not found', `nothing at ${request.url.split('?')[0]}`));

  for (const [name, type] of ASSETS) {
    // A bundle is built (source checkout) or read (package) on first request, then kept.
    const file = BROWSER_BUNDLES.has(name) ? null : readFileSync(join(__dirname, 'assets', name));
    app.get(`/assets/${name}`, async (_request, reply) => reply.type(type).header('cache-control', 'no-cache').send(file ?? (await browserBundle(name))));
  }
  app.get('/', async (_request, reply) => sendPage(reply, 'home', { title: 'Console', database: ctx.options.database, namespace: ctx.options.namespace }));

  await app.register(async (scope) => explorerRoutes(scope, ctx));
  await app.register(async (scope) => proofRoutes(scope, ctx));
  await app.register(async (scope) => healthRoutes(scope, ctx));
  return app;
}

export interface RunningConsole {
  /** e.g. http://127.0.0.1:8234 */
  readonly url: string;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/** Builds the app and listens on the configured host and port (0 = any free port). */
export async function startConsole(ctx: ConsoleContext): Promise<RunningConsole> {
  const app = await createConsoleApp(ctx);
  await app.listen({ host: ctx.options.host, port: ctx.options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : ctx.options.port;
  const host = ctx.options.host.includes(':') ? `[${ctx.options.host}]` : ctx.options.host;
  return { url: `http://${host}:${port}`, app, close: () => app.close() };
}
