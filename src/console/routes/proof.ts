// The proof viewer (/proof: verification runs in the browser, assets/proof-viewer.js) and the JSON
// it reads: /api/proof/:id (a record, its chain position, the revocations naming it and the
// server's own verification) and /api/trust-bundle (the --bundle file, public keys only).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { LineageDocumentError, getRecord } from '../../lineage/queries';
import { recordProof } from '../../lineage/verify';
import type { ConsoleContext } from '../context';
import { RecordIdSchema, type ProofResponse } from '../proof-api';
import { sendPage } from '../render';
import { ConsoleInputError } from '../server';

const firstIssue = (error: z.ZodError) => error.issues[0]?.message ?? 'invalid';

function recordId(value: unknown, what: string): string {
  const parsed = RecordIdSchema.safeParse(value);
  if (!parsed.success) throw new ConsoleInputError(`${what}: ${firstIssue(parsed.error)}`);
  return parsed.data;
}

// An empty ?record= (the form submitted without an id) means no record.
const ProofPageQuerySchema = z.object({ record: z.preprocess((v) => (v === '' ? undefined : v), z.unknown()).optional() }).strict();

const notFound = (reply: FastifyReply, message: string) => reply.code(404).send({ error: 'Not found', message });

export async function proofRoutes(app: FastifyInstance, ctx: ConsoleContext): Promise<void> {
  app.get('/proof', async (request, reply) => {
    const query = ProofPageQuerySchema.safeParse(request.query);
    if (!query.success) throw new ConsoleInputError(`the proof viewer takes one query parameter, record (a lineage record id): ${firstIssue(query.error)}`);
    const id = query.data.record === undefined ? null : recordId(query.data.record, 'record');
    if (id !== null) {
      // A document that exists but does not parse still opens: the viewer shows why it cannot be verified.
      const exists = await getRecord(ctx.db, id).then(
        (r) => r !== null,
        (err) => (err instanceof LineageDocumentError ? true : Promise.reject(err)),
      );
      if (!exists) return sendPage(reply, 'error', { title: 'Not found', heading: 'Not found', message: `no lineage record ${id}` }, 404);
    }
    return sendPage(reply, 'proof', { title: 'Proof viewer', recordId: id ?? '', servesBundle: ctx.trustDocument !== undefined });
  });

  app.get('/api/trust-bundle', async (_request, reply) => {
    if (ctx.trustDocument === undefined) return notFound(reply, 'this console was started without --bundle: it serves no trust bundle');
    return reply.header('cache-control', 'no-store').send(ctx.trustDocument);
  });

  // A wildcard, not `:id`: the router would refuse a long or slash-carrying id with its own status; the schema says why.
  app.get<{ Params: { '*': string } }>('/api/proof/*', async (request, reply) => {
    const id = recordId(request.params['*'], 'record id');
    let proof;
    try {
      proof = await recordProof(ctx.db, id, ctx.trust, { now: Date.now() });
    } catch (err) {
      if (err instanceof LineageDocumentError) return reply.code(422).send({ error: 'Invalid record', message: err.message });
      throw err;
    }
    if (!proof) return notFound(reply, `no lineage record ${id}`);
    const { record } = proof;
    const body: ProofResponse = {
      id: record._id,
      // Dates become ISO-8601 strings, as in `lineage show -o json`.
      record: JSON.parse(JSON.stringify(record)) as Record<string, unknown>,
      chain: { rootId: record.rootId, seq: record.seq, prevHash: record.prevHash, hash: record.hash, previousId: proof.chain.previousId, nextId: proof.chain.nextId, parentId: record.parentId },
      revocations: proof.revocations.map((r) => ({ kind: r.kind, id: r.id, reason: r.reason, at: r.at.toISOString() })),
      verification: proof.verification && { ok: proof.verification.ok, checks: proof.verification.checks.map((c) => ({ ...c, findings: [...c.findings] })) },
    };
    return reply.header('cache-control', 'no-store').send(body);
  });
}
