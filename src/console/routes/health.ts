// health routes (placeholder: filled in by the health work).
import type { FastifyInstance } from 'fastify';
import type { ConsoleContext } from '../context';

export async function healthRoutes(_app: FastifyInstance, _ctx: ConsoleContext): Promise<void> {}
