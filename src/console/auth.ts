// Who may use a console started with a token: API clients send `Authorization: Bearer <token>`;
// browsers, which cannot add that header to page loads, sign in once at /login and get a session
// cookie derived from the token (HttpOnly, SameSite=Strict). The cookie is not the token: a copy of
// it opens this console only, and changing the token ends every session.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'tg_console_session';

/** Paths served without a token: the sign-in page and the stylesheet it uses. */
export const PUBLIC_PATHS = new Set(['/login', '/assets/console.css']);

function same(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('temporal-governance console session v1').digest('base64url');
}

function cookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function tokenMatches(given: string, token: string): boolean {
  return same(given, token);
}

/** A request that sends the token as a bearer token, or the session cookie a sign-in set. */
export function isAuthorized(request: FastifyRequest, token: string): boolean {
  const header = request.headers.authorization ?? '';
  if (header.startsWith('Bearer ') && same(header.slice('Bearer '.length), token)) return true;
  const session = cookie(request, SESSION_COOKIE);
  return session !== undefined && same(session, sessionValue(token));
}

export function sessionCookieHeader(token: string): string {
  return `${SESSION_COOKIE}=${sessionValue(token)}; Path=/; HttpOnly; SameSite=Strict`;
}
