// proof routes (placeholder: filled in by the proof work).
import type { FastifyInstance } from 'fastify';
import type { ConsoleContext } from '../context';

export async function proofRoutes(_app: FastifyInstance, _ctx: ConsoleContext): Promise<void> {}
