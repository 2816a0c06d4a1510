// `temporal-governance principals | api-keys | revoke | revocations | signing-keys ...`: managing
// who may start governed workflows (principals and their API keys in MongoDB), taking authority
// away (revocations), and rotating the keys that sign authorizations (trust bundle files).
// Loaded lazily by main.ts; the MongoDB driver loads only when a command connects.
import type { Db } from 'mongodb';
import type { ApiKeyDocument, RevocationDocument, RevocationKind } from '../identity/schema';
import { OperatorError, parseDuration } from '../operators/denials';
import { OUTPUT_OPTION, outputFormat, parse, printJson, required, UsageError } from './args';
import { withMongoDb } from './mongo';
import { table } from './table';

type Out = (line: string) => void;
const stderrLine: Out = (line) => process.stderr.write(`${line}\n`);

const STORES = 'identity and lineage';
const withDb = <T>(database: string | undefined, fn: (db: Db) => Promise<T>) => withMongoDb(database, fn, STORES);
const store = () => import('../identity/store');

/** `a,b,c` -> ['a', 'b', 'c']; an empty entry is a usage error, not a silently dropped role. */
function roleList(text: string, option: string): string[] {
  const roles = text.split(',').map((r) => r.trim());
  if (roles.some((r) => r === '')) throw new UsageError(`--${option} must be a comma-separated list of roles without empty entries (e.g. --${option} operator,auditor)`);
  return roles;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO 8601 date or date-time; anything else (including dates Date.parse guesses at) is a usage error. */
function isoDate(text: string | undefined, option: string): Date | undefined {
  if (text === undefined) return undefined;
  const date = new Date(text);
  if (!ISO_DATE.test(text) || Number.isNaN(date.getTime())) throw new UsageError(`--${option} must be an ISO 8601 date or time (e.g. 2026-12-31T23:59:59Z), got ${JSON.stringify(text)}`);
  return date;
}

function duration(text: string, option: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`--${option}: ${(err as Error).message}`);
  }
}

async function staleness(them: 'it' | 'them'): Promise<string> {
  const { DEFAULT_MAX_STALENESS_MS } = await import('../identity/cache');
  return `enforcement points deny ${them} within the maximum staleness (default ${DEFAULT_MAX_STALENESS_MS / 1000} s)`;
}

const revokedMap = (revocations: readonly RevocationDocument[]) => new Map(revocations.map((r) => [`${r.kind}:${r.id}`, r]));

async function exists(db: Db, collection: string, id: string): Promise<boolean> {
  return (await db.collection<{ _id: string }>(collection).findOne({ _id: id }, { projection: { _id: 1 } })) !== null;
}

export async function principalsCommand(sub: string | undefined, rest: string[], out: Out): Promise<number> {
  switch (sub) {
    case 'create': {
      const { values, positionals } = parse(rest, { roles: { type: 'string' }, description: { type: 'string' }, database: { type: 'string' } }, 1);
      required(values, 'roles');
      const roles = roleList(values.roles!, 'roles');
      const principal = await withDb(values.database, async (db) => (await store()).createPrincipal(db, { id: positionals[0]!, roles, description: values.description ?? null }));
      out(`principal ${principal._id} created with roles ${principal.roles.join(', ')}`);
      out(`next: temporal-governance api-keys create --principal ${principal._id}`);
      return 0;
    }

    case 'list': {
      const { values } = parse(rest, { database: { type: 'string' }, ...OUTPUT_OPTION });
      const format = outputFormat(values);
      const { principals, revoked } = await withDb(values.database, async (db) => {
        const s = await store();
        return { principals: await s.listPrincipals(db), revoked: revokedMap(await s.listRevocations(db)) };
      });
      const rows = principals.map((p) => ({ ...p, revoked: revoked.get(`principal:${p._id}`) ?? null }));
      if (format !== 'table') printJson(out, format, rows.map((r) => ({ ...r, revoked: r.revoked && { at: r.revoked.at, reason: r.revoked.reason } })));
      else if (rows.length === 0) out('no principals; create one with: temporal-governance principals create ID --roles ROLE[,ROLE]');
      else {
        out(
          table([
            ['Id', 'Roles', 'Revoked', 'Created', 'Description'],
            ...rows.map((r) => [r._id, r.roles.join(','), r.revoked ? `yes (${r.revoked.at.toISOString()})` : 'no', r.createdAt.toISOString(), r.description ?? '']),
          ]),
        );
      }
      return 0;
    }

    default:
      throw new UsageError(`unknown principals command ${sub ?? '(none)'}; expected create or list`);
  }
}

const keyRoles = (k: ApiKeyDocument) => (k.roles ? k.roles.join(',') : "all of principal's");

export async function apiKeysCommand(sub: string | undefined, rest: string[], out: Out, err: Out = stderrLine): Promise<number> {
  switch (sub) {
    case 'create': {
      const { values } = parse(rest, {
        principal: { type: 'string' },
        roles: { type: 'string' },
        'expires-in': { type: 'string' },
        'expires-at': { type: 'string' },
        database: { type: 'string' },
        ...OUTPUT_OPTION,
      });
      const format = outputFormat(values);
      required(values, 'principal');
      if (values['expires-in'] !== undefined && values['expires-at'] !== undefined) throw new UsageError('give --expires-in or --expires-at, not both');
      const roles = values.roles === undefined ? null : roleList(values.roles, 'roles');
      const now = new Date();
      const expiresAt =
        values['expires-in'] !== undefined ? new Date(now.getTime() + duration(values['expires-in'], 'expires-in')) : (isoDate(values['expires-at'], 'expires-at') ?? null);
      const { document, apiKey } = await withDb(values.database, async (db) => (await store()).createApiKey(db, { principal: values.principal!, roles, expiresAt }, now));
      // stdout carries the key and nothing else (KEY=$(temporal-governance api-keys create ...));
      // what it is and the warning go to stderr.
      if (format !== 'table') {
        printJson(out, format, { apiKey, id: document._id, principal: document.principal, roles: document.roles, createdAt: document.createdAt, expiresAt: document.expiresAt });
      } else out(apiKey);
      const what = document.roles ? `roles ${document.roles.join(', ')}` : `all of ${document.principal}'s roles`;
      err(`API key ${document._id} for principal ${document.principal} (${what}; ${document.expiresAt ? `expires ${document.expiresAt.toISOString()}` : 'never expires'})`);
      err('Store it now: it is shown once and governance keeps only its public half.');
      return 0;
    }

    case 'list': {
      const { values } = parse(rest, { principal: { type: 'string' }, database: { type: 'string' }, ...OUTPUT_OPTION });
      const format = outputFormat(values);
      if (values.principal === '') throw new UsageError('--principal must not be empty');
      const { keys, revoked } = await withDb(values.database, async (db) => {
        const s = await store();
        return { keys: await s.listApiKeys(db, { principal: values.principal }), revoked: revokedMap(await s.listRevocations(db)) };
      });
      const now = Date.now();
      // Public halves and metadata only: MongoDB holds nothing secret to print.
      const rows = keys.map((k) => ({
        ...k,
        expired: k.expiresAt !== null && k.expiresAt.getTime() <= now,
        revoked: revoked.has(`api-key:${k._id}`) ? ('key' as const) : revoked.has(`principal:${k.principal}`) ? ('principal' as const) : null,
      }));
      if (format !== 'table') printJson(out, format, rows);
      else if (rows.length === 0) out(`no API keys${values.principal ? ` for principal ${values.principal}` : ''}`);
      else {
        out(
          table([
            ['Id', 'Principal', 'Roles', 'Created', 'Expires', 'Revoked'],
            ...rows.map((r) => [
              r._id,
              r.principal,
              keyRoles(r),
              r.createdAt.toISOString(),
              r.expiresAt ? `${r.expiresAt.toISOString()}${r.expired ? ' (expired)' : ''}` : 'never',
              r.revoked === 'key' ? 'yes' : r.revoked === 'principal' ? 'yes (principal revoked)' : 'no',
            ]),
          ]),
        );
      }
      return 0;
    }

    case 'expire': {
      const { values, positionals } = parse(rest, { at: { type: 'string' }, database: { type: 'string' } }, 1);
      const at = isoDate(values.at, 'at') ?? new Date();
      const key = await withDb(values.database, async (db) => (await store()).expireApiKey(db, positionals[0]!, at));
      const expiresAt = key.expiresAt!;
      if (expiresAt.getTime() < at.getTime()) out(`API key ${key._id} already expires at ${expiresAt.toISOString()}, before ${at.toISOString()}; expiring never extends a key`);
      else out(`API key ${key._id} (principal ${key.principal}) ${expiresAt.getTime() <= Date.now() ? 'expired' : 'expires'} at ${expiresAt.toISOString()}`);
      return 0;
    }

    default:
      throw new UsageError(`unknown api-keys command ${sub ?? '(none)'}; expected create, list or expire`);
  }
}

const KINDS: readonly RevocationKind[] = ['principal', 'api-key', 'authorization', 'signing-key'];
const isKind = (kind: string | undefined): kind is RevocationKind => KINDS.includes(kind as RevocationKind);

export async function revokeCommand(kind: string | undefined, rest: string[], out: Out): Promise<number> {
  if (!isKind(kind)) throw new UsageError(`unknown revoke kind ${kind ?? '(none)'}; expected "revoke principal ID", "revoke api-key ID", "revoke authorization ID" or "revoke signing-key KID"`);
  const { values, positionals } = parse(rest, { reason: { type: 'string' }, database: { type: 'string' } }, 1);
  const id = positionals[0]!;
  if (id === '') throw new UsageError(`the ${kind} id must not be empty`);
  const reason = values.reason ?? '';
  const now = new Date();
  const { IDENTITY_COLLECTIONS } = await import('../identity/schema');

  if (kind === 'authorization') return revokeAuthorizationCommand(id, reason, values.database, now, out);

  const result = await withDb(values.database, async (db) => {
    let detail = '';
    if (kind === 'principal') {
      if (!(await exists(db, IDENTITY_COLLECTIONS.principals, id))) throw new OperatorError(`no principal ${id} in database ${db.databaseName}`);
      const keys = await (await store()).listApiKeys(db, { principal: id });
      detail = ` and its ${keys.length} API key(s)`;
    } else if (kind === 'api-key') {
      if (!(await exists(db, IDENTITY_COLLECTIONS.apiKeys, id))) throw new OperatorError(`no API key ${id} in database ${db.databaseName}`);
    }
    const revocation = await (await store()).revoke(db, kind, id, reason, now);
    return { revocation, detail };
  });

  const { revocation, detail } = result;
  const what = kind === 'api-key' ? 'API key' : kind === 'signing-key' ? 'signing key' : kind;
  // revoke is idempotent: a second revocation keeps the first one's time and reason.
  if (revocation.at.getTime() !== now.getTime() || revocation.reason !== reason) {
    out(`${what} ${id} was already revoked at ${revocation.at.toISOString()}${revocation.reason ? ` (${revocation.reason})` : ''}; nothing changed`);
    return 0;
  }
  const effect = kind === 'signing-key' ? ': every artifact it signed is void' : '';
  out(`revoked ${what} ${id}${detail}${effect}; ${await staleness(detail || effect ? 'them' : 'it')}`);
  return 0;
}

const WHERE: Record<'lineage' | 'outbox' | 'dead-letters', string> = {
  lineage: 'lineage',
  outbox: 'the lineage outbox (issued, not chained yet)',
  'dead-letters': 'the lineage dead letters',
};

/**
 * `revoke authorization ID`: the id, and when it is a continue-as-new hop (a continued run's grant or
 * a continue-as-new artifact) its chain id too, since nothing below a hop lists the hop itself
 * (docs/identity.md section 7.1). Prints every id revoked and why.
 */
async function revokeAuthorizationCommand(id: string, reason: string, database: string | undefined, now: Date, out: Out): Promise<number> {
  const { revokeAuthorization, NotAnAuthorizationError } = await import('../identity/revoke-authorization');
  const result = await withDb(database, async (db) => {
    let revocation;
    try {
      revocation = await revokeAuthorization(db, id, reason, now);
    } catch (err) {
      if (err instanceof NotAnAuthorizationError) throw new OperatorError(err.message);
      throw err;
    }
    const { descendants } = await import('../lineage/queries');
    // What lineage holds below the widest id revoked (the chain, for a hop).
    const widest = revocation.revoked[revocation.revoked.length - 1]!.id;
    const below = revocation.found === 'nowhere' ? 0 : (await descendants(db, widest)).filter((r) => r.decision === 'allow').length;
    return { revocation, below, databaseName: db.databaseName };
  });
  const { revocation, below } = result;
  const a = revocation.artifact;
  if (revocation.found === 'nowhere') {
    out(`note: ${id} was found in no lineage record, outbox entry or dead letter of database ${result.databaseName}: this governance never issued it (or its lineage is in another database); revoked as given`);
  } else {
    out(`found ${id} in ${WHERE[revocation.found]}${a ? `: ${a.action} ${a.target} in ${a.workflowId}/${a.runId}, chain ${a.chain.id} hop ${a.chain.hop}` : ' (its signed artifact is not readable by this version: revoked as given)'}`);
  }
  for (const r of revocation.revoked) {
    const why = r.as === 'chain' ? ` (the chain of ${id}: a continue-as-new hop is listed by nothing below it, its chain id is; the chain's earlier hops are closed runs)` : '';
    if (r.created) out(`revoked authorization ${r.id}${why}`);
    else out(`authorization ${r.id}${why} was already revoked at ${r.revocation.at.toISOString()}${r.revocation.reason ? ` (${r.revocation.reason})` : ''}; nothing changed`);
  }
  if (revocation.revoked.some((r) => r.created)) out(`lineage records ${below} authorization(s) below it; ${await staleness('them')}`);
  return 0;
}

export async function revocationsCommand(sub: string | undefined, rest: string[], out: Out): Promise<number> {
  if (sub !== 'list') throw new UsageError(`unknown revocations command ${sub ?? '(none)'}; expected "revocations list"`);
  const { values } = parse(rest, { database: { type: 'string' }, ...OUTPUT_OPTION });
  const format = outputFormat(values);
  const revocations = await withDb(values.database, async (db) => (await store()).listRevocations(db));
  if (format !== 'table') printJson(out, format, revocations);
  else if (revocations.length === 0) out('no revocations');
  else out(table([['Kind', 'Id', 'At', 'Reason'], ...revocations.map((r) => [r.kind, r.id, r.at.toISOString(), r.reason || '-'])]));
  return 0;
}

export async function signingKeysCommand(sub: string | undefined, rest: string[], out: Out): Promise<number> {
  const keys = await import('../crypto/keys');
  switch (sub) {
    case 'generate': {
      const { values } = parse(rest, { key: { type: 'string' }, bundle: { type: 'string' }, kid: { type: 'string' } });
      required(values, 'key', 'bundle');
      if (values.kid === '') throw new UsageError('--kid must not be empty');
      const kid = values.kid ?? `key-${new Date().toISOString().slice(0, 10)}-${Math.random().toString(36).slice(2, 8)}`;
      const generated = keys.generateSigningKey({ keyPath: values.key!, bundlePath: values.bundle!, kid });
      out(`signing key ${generated.kid} written to ${values.key} (mode 0600; keep it on governance workers only)`);
      out(`public key added to trust bundle ${values.bundle}; distribute the bundle to every worker`);
      return 0;
    }

    case 'retire': {
      const { values } = parse(rest, { bundle: { type: 'string' }, kid: { type: 'string' }, at: { type: 'string' } });
      required(values, 'bundle', 'kid');
      const at = isoDate(values.at, 'at') ?? new Date();
      const bundle = keys.retireSigningKey({ bundlePath: values.bundle!, kid: values.kid!, at });
      const notAfter = bundle.keys.find((k) => k.kid === values.kid)?.notAfter ?? null;
      if (notAfter !== null && Date.parse(notAfter) < at.getTime()) {
        out(`signing key ${values.kid} was already retired at ${notAfter} in ${values.bundle}; retiring never extends a key`);
        return 0;
      }
      out(`signing key ${values.kid} retired in ${values.bundle} from ${notAfter}: verifiers accept nothing it signs after that`);
      out(`artifacts it signed before stay valid; to void them too, run: temporal-governance revoke signing-key ${values.kid}`);
      out('distribute the updated bundle to every worker');
      return 0;
    }

    default:
      throw new UsageError(`unknown signing-keys command ${sub ?? '(none)'}; expected generate or retire`);
  }
}
