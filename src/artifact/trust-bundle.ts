// Trust bundle: kid -> Ed25519 public key with a validity window. Sandbox-safe parsing.
import { z } from 'zod';
import { fromBase64Url } from '../common/base64url';

const IsoDate = z.iso.datetime({ offset: true });

export const TrustBundleKeySchema = z
  .object({
    kid: z.string().min(1),
    kty: z.literal('OKP'),
    crv: z.literal('Ed25519'),
    /** Raw 32-byte public key, base64url (as in a JWK). */
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'an Ed25519 public key is 32 bytes (43 base64url characters)'),
    notBefore: IsoDate,
    /** Null: no end yet. Retiring a key sets this; artifacts are then rejected once it passes. */
    notAfter: IsoDate.nullable(),
  })
  .strict();

export const TrustBundleSchema = z
  .object({
    typ: z.literal('temporal-governance/trust-bundle@1'),
    keys: z.array(TrustBundleKeySchema).min(1),
  })
  .strict()
  .superRefine((bundle, ctx) => {
    const seen = new Set<string>();
    bundle.keys.forEach((k, i) => {
      if (seen.has(k.kid)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'kid'], message: `duplicate kid "${k.kid}"` });
      seen.add(k.kid);
    });
  });
export type TrustBundleDocument = z.infer<typeof TrustBundleSchema>;

export interface TrustedKey {
  readonly kid: string;
  readonly publicKey: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number | null;
}

export interface TrustBundle {
  readonly keys: ReadonlyMap<string, TrustedKey>;
}

export class TrustBundleError extends Error {
  override readonly name = 'TrustBundleError';
}

export function parseTrustBundle(document: unknown, source = '<inline>'): TrustBundle {
  const result = TrustBundleSchema.safeParse(document);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '<root>'}: ${i.message}`);
    throw new TrustBundleError(`invalid trust bundle ${source}: ${problems.join('; ')}`);
  }
  const keys = new Map<string, TrustedKey>();
  for (const k of result.data.keys) {
    let publicKey: Uint8Array;
    try {
      publicKey = fromBase64Url(k.x);
    } catch (err) {
      throw new TrustBundleError(`invalid trust bundle ${source}: key ${k.kid}: x: ${(err as Error).message}`);
    }
    keys.set(k.kid, {
      kid: k.kid,
      publicKey,
      notBefore: Date.parse(k.notBefore),
      notAfter: k.notAfter === null ? null : Date.parse(k.notAfter),
    });
  }
  return { keys };
}
