// Server-rendered pages: Eta templates under views/, one layout, HTML-escaped by default (`<%= %>`).
import { join } from 'node:path';
import { Eta } from 'eta';
import type { FastifyReply } from 'fastify';

const eta = new Eta({ views: join(__dirname, 'views'), autoEscape: true, cache: true });

export interface PageData {
  readonly title: string;
  readonly [key: string]: unknown;
}

/** Renders `view` inside the layout and sends it as HTML. */
export function sendPage(reply: FastifyReply, view: string, data: PageData, status = 200): FastifyReply {
  const body = eta.render(view, data);
  const html = eta.render('layout', { ...data, body });
  return reply.code(status).type('text/html; charset=utf-8').send(html);
}

/** Renders `view` alone (no layout) and sends it as an HTML fragment, for the pages' scripts to insert. */
export function sendFragment(reply: FastifyReply, view: string, data: Record<string, unknown>, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(eta.render(view, data));
}
