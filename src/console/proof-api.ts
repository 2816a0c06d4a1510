// The JSON the console's proof endpoints answer with, as zod schemas: the server builds these
// shapes and the browser's proof viewer parses them (a response is a claim like any other input).
// Pure: bundled into the browser. docs/console.md "Endpoints" documents every member.
import { z } from 'zod';
import { RevocationKindSchema } from '../identity/schema';

/** What `/proof?record=` and `/api/proof/:id` accept as a record id (lineage ids are `art_…`/`den_…` plus hex; others stay possible). */
export const RecordIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, 'a record id is 1 to 100 letters, digits and . _ : - (starting with a letter or digit), e.g. art_0f3c…');

const FindingJsonSchema = z.object({ code: z.string(), message: z.string() }).strict();
export const CheckJsonSchema = z
  .object({
    name: z.enum(['signature', 'key-window', 'binding', 'parent-link', 'chain-link', 'revocations']),
    status: z.enum(['pass', 'fail', 'not-applicable']),
    reason: z.string(),
    findings: z.array(FindingJsonSchema),
  })
  .strict();
export const VerificationJsonSchema = z.object({ ok: z.boolean(), checks: z.array(CheckJsonSchema) }).strict();

export const RevocationJsonSchema = z
  .object({ kind: RevocationKindSchema, id: z.string().min(1), reason: z.string(), at: z.iso.datetime({ offset: true }) })
  .strict();
export type RevocationJson = z.infer<typeof RevocationJsonSchema>;

export const ChainPositionSchema = z
  .object({
    rootId: z.string(),
    seq: z.number().int().nonnegative(),
    prevHash: z.string(),
    hash: z.string(),
    /** The record with seq - 1 in the same root (null for seq 0, or when none is stored: a gap). */
    previousId: z.string().nullable(),
    /** The record with seq + 1 (null for the chain's head, or a gap). */
    nextId: z.string().nullable(),
    parentId: z.string().nullable(),
  })
  .strict();
export type ChainPosition = z.infer<typeof ChainPositionSchema>;

export const ProofResponseSchema = z
  .object({
    id: z.string(),
    /** The lineage document as stored, dates as ISO-8601 strings (parse with LineageRecordJsonSchema). */
    record: z.record(z.string(), z.unknown()),
    chain: ChainPositionSchema,
    /** Revocations naming the record's artifact, its ancestors, their keys, its principal or API key. */
    revocations: z.array(RevocationJsonSchema),
    /** The server's verification (verify-record.ts, node:crypto); null when the console has no trust bundle. */
    verification: VerificationJsonSchema.nullable(),
  })
  .strict();
export type ProofResponse = z.infer<typeof ProofResponseSchema>;
