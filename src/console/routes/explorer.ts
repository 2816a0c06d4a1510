// explorer routes (placeholder: filled in by the explorer work).
import type { FastifyInstance } from 'fastify';
import type { ConsoleContext } from '../context';

export async function explorerRoutes(_app: FastifyInstance, _ctx: ConsoleContext): Promise<void> {}
