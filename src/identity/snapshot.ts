// An identity snapshot: principals, API keys (public halves) and revocations as read at one moment.
// The governance worker and every enforcement point decide from a snapshot no older than the
// maximum staleness; an older one denies everything. Pure: no I/O.
import { fromBase64Url } from '../common/base64url';
import { DenyCodes } from '../common/constants';
import type { ArtifactPayload } from '../common/schemas';
import type { TrustedKey } from '../artifact/trust-bundle';
import type { ApiKeyDocument, PrincipalDocument, RevocationDocument, RevocationKind } from './schema';

export interface KnownApiKey {
  readonly id: string;
  readonly principal: string;
  /** The public half, shaped for the Ed25519 verifier (which caches per key object). */
  readonly key: TrustedKey;
  readonly roles: readonly string[] | null;
  readonly expiresAt: number | null;
}

export interface IdentitySnapshot {
  /** When the state was read (before the read started, so age is never understated). */
  readonly loadedAt: number;
  rolesOf(principal: string): readonly string[] | undefined;
  apiKey(id: string): KnownApiKey | undefined;
  revocation(kind: RevocationKind, id: string): RevocationDocument | undefined;
}

export function identitySnapshot(
  documents: { principals: readonly PrincipalDocument[]; apiKeys: readonly ApiKeyDocument[]; revocations: readonly RevocationDocument[] },
  loadedAt: number,
): IdentitySnapshot {
  const principals = new Map(documents.principals.map((p) => [p._id, p.roles]));
  const keys = new Map(
    documents.apiKeys.map((k) => [
      k._id,
      { id: k._id, principal: k.principal, key: { kid: k._id, publicKey: fromBase64Url(k.publicKey), notBefore: 0, notAfter: null }, roles: k.roles, expiresAt: k.expiresAt?.getTime() ?? null },
    ]),
  );
  const revocations = new Map(documents.revocations.map((r) => [`${r.kind}:${r.id}`, r]));
  return {
    loadedAt,
    rolesOf: (principal) => principals.get(principal),
    apiKey: (id) => keys.get(id),
    revocation: (kind, id) => revocations.get(`${kind}:${id}`),
  };
}

export type IdentityProblem = { readonly code: string; readonly reason: string };

/** Null when the snapshot may be trusted at `now`, else why not. */
export function stalenessProblem(snapshot: IdentitySnapshot | undefined, now: number, maxStalenessMs: number): IdentityProblem | null {
  if (!snapshot) return { code: DenyCodes.identityStateStale, reason: 'identity and revocation state could not be read; denied, never allowed' };
  const age = now - snapshot.loadedAt;
  if (age > maxStalenessMs) {
    return {
      code: DenyCodes.identityStateStale,
      reason: `identity and revocation state is ${Math.round(age / 1000)} s old (maximum ${Math.round(maxStalenessMs / 1000)} s); denied, never allowed`,
    };
  }
  return null;
}

/**
 * Why an artifact no longer carries authority, or null. Revoking an authorization revokes
 * everything that descends from it: the artifact's own id, every ancestor id, its direct parent's id
 * and its chain id are checked. (`ancestors` skip continue-as-new hops: revoking a hop revokes its
 * chain id too, see src/identity/revoke-authorization.ts; the parent check makes even a bare
 * revocation of a hop void what that hop issued directly.)
 */
export function revocationProblem(payload: ArtifactPayload, snapshot: IdentitySnapshot): IdentityProblem | null {
  const hit = (kind: RevocationKind, id: string) => snapshot.revocation(kind, id);
  if (hit('signing-key', payload.kid)) return { code: DenyCodes.signingKeyRevoked, reason: `signing key ${payload.kid} is revoked` };
  const ancestorKid = payload.ancestorKids.find((kid) => hit('signing-key', kid));
  if (ancestorKid) return { code: DenyCodes.signingKeyRevoked, reason: `authorization ${payload.id} descends from a grant signed by revoked key ${ancestorKid}` };
  if (hit('principal', payload.principal)) return { code: DenyCodes.principalRevoked, reason: `principal ${payload.principal} is revoked` };
  if (hit('api-key', payload.credential)) return { code: DenyCodes.apiKeyRevoked, reason: `API key ${payload.credential} is revoked` };
  if (hit('authorization', payload.id)) return { code: DenyCodes.authorizationRevoked, reason: `authorization ${payload.id} is revoked` };
  const ancestor = payload.ancestors.find((id) => hit('authorization', id));
  if (ancestor) return { code: DenyCodes.authorizationRevoked, reason: `authorization ${payload.id} descends from revoked authorization ${ancestor}` };
  for (const id of [payload.parent?.id, payload.chain.id]) {
    if (id !== undefined && hit('authorization', id)) return { code: DenyCodes.authorizationRevoked, reason: `authorization ${payload.id} descends from revoked authorization ${id}` };
  }
  return null;
}

/** Roles in both lists, sorted (the order inside a signed artifact must not depend on input order). */
export function intersectRoles(a: readonly string[], b: readonly string[]): string[] {
  const set = new Set(b);
  return [...new Set(a.filter((r) => set.has(r)))].sort();
}
