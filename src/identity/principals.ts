// Principals and their roles, as the governance worker knows them. Until API keys land, a principal
// is named by the client at workflow start and looked up here; unknown principals are denied.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';

export const PrincipalDirectorySchema = z
  .object({
    principals: z.record(
      z.string().min(1),
      z.object({ roles: z.array(z.string().min(1)), description: z.string().optional() }).strict(),
    ),
  })
  .strict();
export type PrincipalDirectoryDocument = z.infer<typeof PrincipalDirectorySchema>;

export interface PrincipalDirectory {
  /** Roles of a known principal, undefined for an unknown one. */
  rolesOf(principal: string): readonly string[] | undefined;
}

export class PrincipalDirectoryError extends Error {
  override readonly name = 'PrincipalDirectoryError';
}

export function principalDirectory(document: unknown, source = '<inline>'): PrincipalDirectory {
  const parsed = PrincipalDirectorySchema.safeParse(document);
  if (!parsed.success) {
    throw new PrincipalDirectoryError(
      `invalid principals ${source}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '<root>'}: ${i.message}`).join('; ')}`,
    );
  }
  const map = new Map(Object.entries(parsed.data.principals).map(([id, p]) => [id, p.roles]));
  return { rolesOf: (principal) => map.get(principal) };
}

export function loadPrincipalsFile(path: string): PrincipalDirectory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PrincipalDirectoryError(`cannot read principals ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new PrincipalDirectoryError(`invalid principals ${path}: ${doc.errors[0]!.message.split('\n')[0]}`);
  return principalDirectory(doc.toJS(), path);
}
