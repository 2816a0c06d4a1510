// `temporal-governance principals | api-keys | revoke | revocations | signing-keys` as operators run
// them: a real process against the real MongoDB-wire server (MONGODB_URI from global-setup), one
// fresh database for this file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { parseApiKey, publicKeyOf } from '../src/identity/api-key';
import { IDENTITY_COLLECTIONS } from '../src/identity/schema';
import { DEAD_LETTER_COLLECTION, LINEAGE_COLLECTION, LineageRecordSchema, OUTBOX_COLLECTION, type LineageRecord } from '../src/lineage/schema';
import { signArtifact } from '../src/artifact/artifact';
import { nodeEd25519 } from '../src/crypto/node';
import { revokeAuthorization } from '../src/identity/revoke-authorization';

const bin = join(__dirname, '..', 'bin', 'temporal-governance.js');
const database = `identity_cli_${process.pid}_${Date.now().toString(36)}`;

function mongoUri(): string {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('MONGODB_URI is not set: run the tests through jest (global-setup starts the stack)');
  return uri;
}

function run(args: string[], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS: '', MONGODB_URI: mongoUri(), ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** A command against this file's database. */
const tg = (...args: string[]) => run([...args, '--database', database]);
const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

let client: MongoClient;
let db: Db;

beforeAll(async () => {
  client = new MongoClient(mongoUri(), { serverSelectionTimeoutMS: 5_000 });
  await client.connect();
  db = client.db(database);
});
afterAll(async () => {
  await db?.dropDatabase().catch(() => undefined);
  await client?.close();
});

/** Every document of every collection in the database, as JSON. */
async function wholeDatabaseAsJson(): Promise<string> {
  const collections = await db.listCollections({}, { nameOnly: true }).toArray();
  const dump: Record<string, unknown[]> = {};
  for (const { name } of collections) dump[name] = await db.collection(name).find({}).toArray();
  return JSON.stringify(dump);
}

describe('principals', () => {
  test('create, then list as a table and as JSON', () => {
    const created = tg('principals', 'create', 'alice', '--roles', 'operator,auditor', '--description', 'payments on-call');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('principal alice created with roles auditor, operator');
    expect(tg('principals', 'create', 'bob', '--roles', 'viewer').code).toBe(0);

    const listed = tg('principals', 'list');
    expect(listed.code).toBe(0);
    const out = lines(listed.stdout);
    expect(out[0]).toMatch(/^Id\s+Roles\s+Revoked\s+Created\s+Description$/);
    expect(out.find((l) => l.startsWith('alice'))).toMatch(/^alice\s+auditor,operator\s+no\s+\d{4}-\d{2}-\d{2}T[\d:.]+Z\s+payments on-call$/);
    expect(out.find((l) => l.startsWith('bob'))).toMatch(/^bob\s+viewer\s+no\s+/);

    const asJson = JSON.parse(tg('principals', 'list', '-o', 'json').stdout);
    expect(asJson).toEqual([
      expect.objectContaining({ _id: 'alice', roles: ['auditor', 'operator'], description: 'payments on-call', revoked: null }),
      expect.objectContaining({ _id: 'bob', roles: ['viewer'], description: null, revoked: null }),
    ]);
  });

  test('a duplicate id: exit 1, one line, nothing changed', async () => {
    const r = tg('principals', 'create', 'alice', '--roles', 'admin');
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual(['temporal-governance: principal alice already exists']);
    expect(await db.collection(IDENTITY_COLLECTIONS.principals).findOne({ _id: 'alice' as never })).toMatchObject({ roles: ['auditor', 'operator'] });
  });

  test('an invalid id: exit 1, one line naming the rule', () => {
    const r = tg('principals', 'create', '-x', '--roles', 'a');
    // parseArgs reads "-x" as an option: a usage error. An id that parses but breaks the id rule is the store's to refuse.
    expect(r.code).toBe(2);
    const bad = tg('principals', 'create', 'has space', '--roles', 'a');
    expect(bad.code).toBe(1);
    expect(lines(bad.stderr)).toEqual([expect.stringMatching(/^temporal-governance: invalid principal id: a principal id is letters, digits/)]);
  });
});

describe('api-keys', () => {
  let narrowKey: { id: string; apiKey: string };
  let broadKey: { id: string; apiKey: string };

  test('create prints the key alone on stdout (what it is on stderr), once, and MongoDB keeps no trace of its secret', async () => {
    const before = Date.now();
    const r = tg('api-keys', 'create', '--principal', 'alice', '--roles', 'operator', '--expires-in', '30d');
    expect(r.code).toBe(0);
    // KEY=$(temporal-governance api-keys create ...) gets exactly the key.
    expect(r.stdout).toMatch(/^tgk\.ak_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}\n$/);
    const apiKey = r.stdout.trim();
    const err = lines(r.stderr);
    expect(err).toHaveLength(2);
    const header = /^API key (ak_[0-9a-f]{16}) for principal alice \(roles operator; expires (\S+)\)$/.exec(err[0]!);
    expect(header).not.toBeNull();
    const expires = Date.parse(header![2]!);
    expect(expires).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    expect(apiKey.split('.')[1]).toBe(header![1]);
    expect(err[1]).toBe('Store it now: it is shown once and governance keeps only its public half.');
    expect(r.stderr).not.toContain(apiKey.split('.')[2]!); // the secret only on stdout

    const secret = apiKey.split('.')[2]!;
    const dump = await wholeDatabaseAsJson();
    expect(dump).toContain(header![1]); // the scan does see the key's document...
    expect(dump).not.toContain(apiKey); // ...but neither the key...
    expect(dump).not.toContain(secret); // ...nor its secret part.

    // What MongoDB keeps is the public half of exactly this key.
    const stored = await db.collection(IDENTITY_COLLECTIONS.apiKeys).findOne({ _id: header![1] as never });
    expect(stored).toMatchObject({ principal: 'alice', roles: ['operator'], publicKey: publicKeyOf(parseApiKey(apiKey).seed) });
    expect((stored!.expiresAt as Date).getTime()).toBe(expires);
    narrowKey = { id: header![1]!, apiKey };
  });

  test('without --roles a key carries all of its principal roles; --expires-at sets the expiry; -o json', async () => {
    const r = tg('api-keys', 'create', '--principal', 'alice', '--expires-at', '2099-01-02T03:04:05Z', '-o', 'json');
    expect(r.code).toBe(0);
    const created = JSON.parse(r.stdout) as { apiKey: string; id: string };
    expect(created).toEqual({
      apiKey: expect.stringMatching(/^tgk\.ak_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/),
      id: expect.stringMatching(/^ak_[0-9a-f]{16}$/),
      principal: 'alice',
      roles: null,
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/),
      expiresAt: '2099-01-02T03:04:05.000Z',
    });
    expect(created.apiKey.split('.')[1]).toBe(created.id);
    expect(lines(r.stderr)[0]).toBe(`API key ${created.id} for principal alice (all of alice's roles; expires 2099-01-02T03:04:05.000Z)`);
    broadKey = { id: created.id, apiKey: created.apiKey };
    const stored = await db.collection(IDENTITY_COLLECTIONS.apiKeys).findOne({ _id: broadKey.id as never });
    expect(stored).toMatchObject({ roles: null, expiresAt: new Date('2099-01-02T03:04:05Z') });
    expect(await wholeDatabaseAsJson()).not.toContain(broadKey.apiKey.split('.')[2]!);
  });

  test('roles outside the principal: exit 1, one line, no key stored', async () => {
    const count = await db.collection(IDENTITY_COLLECTIONS.apiKeys).countDocuments({});
    const r = tg('api-keys', 'create', '--principal', 'alice', '--roles', 'operator,admin');
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual(["temporal-governance: principal alice does not hold admin; a key can only narrow its principal's roles"]);
    expect(r.stdout).not.toMatch(/tgk\./);
    expect(await db.collection(IDENTITY_COLLECTIONS.apiKeys).countDocuments({})).toBe(count);
  });

  test('an unknown principal: exit 1, one line', () => {
    const r = tg('api-keys', 'create', '--principal', 'nobody');
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual(['temporal-governance: principal nobody does not exist; create it first']);
  });

  test('list shows ids, roles and expiry, and nothing secret', () => {
    const r = tg('api-keys', 'list');
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toMatch(/^Id\s+Principal\s+Roles\s+Created\s+Expires\s+Revoked$/);
    expect(out.find((l) => l.startsWith(narrowKey.id))).toMatch(new RegExp(`^${narrowKey.id}\\s+alice\\s+operator\\s+\\S+Z\\s+\\S+Z\\s+no$`));
    expect(out.find((l) => l.startsWith(broadKey.id))).toMatch(new RegExp(`^${broadKey.id}\\s+alice\\s+all of principal's\\s+\\S+Z\\s+2099-01-02T03:04:05\\.000Z\\s+no$`));
    const asJson = tg('api-keys', 'list', '-o', 'json');
    expect(JSON.parse(asJson.stdout).map((k: { _id: string }) => k._id)).toEqual([narrowKey.id, broadKey.id]);
    const asJsonl = tg('api-keys', 'list', '-o', 'jsonl');
    expect(lines(asJsonl.stdout).map((l) => (JSON.parse(l) as { _id: string })._id)).toEqual([narrowKey.id, broadKey.id]);
    for (const key of [narrowKey, broadKey]) {
      expect(r.stdout + asJson.stdout + asJsonl.stdout).not.toContain(key.apiKey.split('.')[2]!);
    }
  });

  test('list --principal filters', () => {
    expect(tg('api-keys', 'create', '--principal', 'bob').code).toBe(0);
    const alice = JSON.parse(tg('api-keys', 'list', '--principal', 'alice', '-o', 'json').stdout) as { principal: string }[];
    expect(alice).toHaveLength(2);
    expect(alice.every((k) => k.principal === 'alice')).toBe(true);
    const bob = JSON.parse(tg('api-keys', 'list', '--principal', 'bob', '-o', 'json').stdout) as { principal: string }[];
    expect(bob).toEqual([expect.objectContaining({ principal: 'bob', roles: null, expiresAt: null })]);
    expect(tg('api-keys', 'list', '--principal', 'carol').stdout.trim()).toBe('no API keys for principal carol');
  });

  test('expire sets the expiry, and never extends it', async () => {
    const at = '2030-06-01T00:00:00.000Z';
    const r = tg('api-keys', 'expire', broadKey.id, '--at', at);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`API key ${broadKey.id} (principal alice) expires at ${at}`);
    expect(await db.collection(IDENTITY_COLLECTIONS.apiKeys).findOne({ _id: broadKey.id as never })).toMatchObject({ expiresAt: new Date(at) });

    const later = tg('api-keys', 'expire', broadKey.id, '--at', '2040-01-01T00:00:00Z');
    expect(later.code).toBe(0);
    expect(later.stdout).toContain('already expires at 2030-06-01T00:00:00.000Z');
    expect(await db.collection(IDENTITY_COLLECTIONS.apiKeys).findOne({ _id: broadKey.id as never })).toMatchObject({ expiresAt: new Date(at) });

    // Default: now. The list then marks it expired.
    const before = Date.now();
    const now = tg('api-keys', 'expire', narrowKey.id);
    expect(now.code).toBe(0);
    expect(now.stdout).toMatch(new RegExp(`^API key ${narrowKey.id} \\(principal alice\\) expired at `));
    const stored = await db.collection(IDENTITY_COLLECTIONS.apiKeys).findOne({ _id: narrowKey.id as never });
    expect((stored!.expiresAt as Date).getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect((stored!.expiresAt as Date).getTime()).toBeLessThanOrEqual(Date.now());
    expect(lines(tg('api-keys', 'list').stdout).find((l) => l.startsWith(narrowKey.id))).toMatch(/Z \(expired\)\s+no$/);
  });

  test('expire an unknown key: exit 1, one line', () => {
    const r = tg('api-keys', 'expire', 'ak_0000000000000000');
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual(['temporal-governance: API key ak_0000000000000000 does not exist']);
  });

  describe('revoke', () => {
    test('principal: recorded, shown on the principal and its keys, and no new keys for it', async () => {
      const r = tg('revoke', 'principal', 'bob', '--reason', 'left the team');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe('revoked principal bob and its 1 API key(s); enforcement points deny them within the maximum staleness (default 5 s)');
      expect(await db.collection(IDENTITY_COLLECTIONS.revocations).findOne({ _id: 'principal:bob' as never })).toMatchObject({ kind: 'principal', id: 'bob', reason: 'left the team' });
      expect(lines(tg('principals', 'list').stdout).find((l) => l.startsWith('bob'))).toMatch(/^bob\s+viewer\s+yes \(/);
      expect(lines(tg('api-keys', 'list', '--principal', 'bob').stdout)[2]).toMatch(/yes \(principal revoked\)$/);
      const again = tg('api-keys', 'create', '--principal', 'bob');
      expect(again.code).toBe(1);
      expect(lines(again.stderr)).toEqual(['temporal-governance: principal bob is revoked']);
    });

    test('revoking twice keeps the first revocation', async () => {
      const r = tg('revoke', 'principal', 'bob', '--reason', 'second thoughts');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^principal bob was already revoked at \S+Z \(left the team\); nothing changed/);
      expect(await db.collection(IDENTITY_COLLECTIONS.revocations).countDocuments({ id: 'bob' })).toBe(1);
    });

    test('api-key: recorded and shown in the key list', () => {
      const r = tg('revoke', 'api-key', broadKey.id);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`revoked API key ${broadKey.id}; enforcement points deny it within the maximum staleness (default 5 s)`);
      expect(lines(tg('api-keys', 'list').stdout).find((l) => l.startsWith(broadKey.id))).toMatch(/\s+yes$/);
    });

    test('unknown principals and API keys are refused', async () => {
      const p = tg('revoke', 'principal', 'mallory');
      expect(p.code).toBe(1);
      expect(lines(p.stderr)).toEqual([`temporal-governance: no principal mallory in database ${database}`]);
      const k = tg('revoke', 'api-key', 'ak_ffffffffffffffff');
      expect(k.code).toBe(1);
      expect(lines(k.stderr)).toEqual([`temporal-governance: no API key ak_ffffffffffffffff in database ${database}`]);
      expect(await db.collection(IDENTITY_COLLECTIONS.revocations).countDocuments({ id: { $in: ['mallory', 'ak_ffffffffffffffff'] } })).toBe(0);
    });

    test('signing-key: recorded (kids live in bundle files, so any kid is accepted)', () => {
      const r = tg('revoke', 'signing-key', 'prod-2026-01', '--reason', 'key file leaked');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe('revoked signing key prod-2026-01: every artifact it signed is void; enforcement points deny them within the maximum staleness (default 5 s)');
    });

    test('revocations list: every revocation, as a table and as JSON', () => {
      const r = tg('revocations', 'list');
      expect(r.code).toBe(0);
      const out = lines(r.stdout);
      expect(out[0]).toMatch(/^Kind\s+Id\s+At\s+Reason$/);
      expect(out.slice(2).map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['principal bob', `api-key ${broadKey.id}`, 'signing-key prod-2026-01']);
      expect(out.find((l) => l.startsWith('signing-key'))).toMatch(/key file leaked$/);
      expect(out.find((l) => l.startsWith('api-key'))).toMatch(/\s+-$/);
      const asJson = JSON.parse(tg('revocations', 'list', '-o', 'json').stdout);
      expect(asJson).toEqual([
        expect.objectContaining({ _id: 'principal:bob', kind: 'principal', id: 'bob', reason: 'left the team' }),
        expect.objectContaining({ _id: `api-key:${broadKey.id}`, kind: 'api-key', id: broadKey.id, reason: '' }),
        expect.objectContaining({ _id: 'signing-key:prod-2026-01', kind: 'signing-key', id: 'prod-2026-01', reason: 'key file leaked' }),
      ]);
    });
  });
});

describe('revoke authorization', () => {
  const hash = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
  /** A minimal lineage record (no signed decision attached): enough for the lookups revoke makes. */
  function record(id: string, ancestors: string[], seq: number, decision: 'allow' | 'deny' = 'allow'): LineageRecord {
    return LineageRecordSchema.parse({
      _id: id,
      kind: decision === 'allow' ? 'artifact' : 'denial',
      decision,
      decisionId: `dec_${id}`,
      denyCode: decision === 'deny' ? 'AMOUNT_OVER_LIMIT' : null,
      reason: decision === 'deny' ? 'too much' : null,
      principal: 'alice',
      action: ancestors.length === 0 ? 'workflow' : 'child-workflow',
      target: 'payments',
      activityType: null,
      namespace: 'default',
      workflowId: `wf_${id}`,
      runId: `run_${id}`,
      policy: { id: 'p', version: hash(999) },
      rules: [],
      parentId: ancestors[ancestors.length - 1] ?? null,
      rootId: ancestors[0] ?? id,
      ancestors,
      depth: ancestors.length,
      seq,
      prevHash: hash(seq),
      hash: hash(seq + 1),
      issuedAt: new Date(),
      recordedAt: new Date(),
      artifact: null,
      denial: null,
    });
  }

  beforeAll(async () => {
    await db.collection<LineageRecord>(LINEAGE_COLLECTION).insertMany([
      record('art_root', [], 0),
      record('art_child', ['art_root'], 1),
      record('art_grandchild', ['art_root', 'art_child'], 2),
      record('art_sibling', ['art_root', 'art_child'], 3),
      record('den_denied', ['art_root', 'art_child'], 4, 'deny'),
    ]);
  });

  test('an id found nowhere (lineage, outbox, dead letters) is revoked as given, with a note', async () => {
    const r = tg('revoke', 'authorization', 'art_nope');
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      `note: art_nope was found in no lineage record, outbox entry or dead letter of database ${database}: this governance never issued it (or its lineage is in another database); revoked as given`,
      'revoked authorization art_nope',
      'lineage records 0 authorization(s) below it; enforcement points deny them within the maximum staleness (default 5 s)',
    ]);
    expect(await db.collection(IDENTITY_COLLECTIONS.revocations).findOne({ _id: 'authorization:art_nope' as never })).toMatchObject({ kind: 'authorization', id: 'art_nope' });
  });

  test('a known one: recorded, reporting the authorizations lineage records below it', async () => {
    const r = tg('revoke', 'authorization', 'art_child', '--reason', 'fraud investigation');
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      // These hand-made records hold no signed artifact: nothing says it is a continue-as-new hop.
      'found art_child in lineage (its signed artifact is not readable by this version: revoked as given)',
      'revoked authorization art_child',
      'lineage records 2 authorization(s) below it; enforcement points deny them within the maximum staleness (default 5 s)',
    ]);
    expect(await db.collection(IDENTITY_COLLECTIONS.revocations).findOne({ _id: 'authorization:art_child' as never })).toMatchObject({
      kind: 'authorization',
      id: 'art_child',
      reason: 'fraud investigation',
    });
  });

  /** A genuine-looking version 3 artifact: the published test vector's run grant, re-signed as hop `hop` of chain `chainId`. */
  function hopArtifact(id: string, action: 'workflow' | 'continue-as-new' | 'child-workflow', chainId: string, hop: number) {
    const vector = JSON.parse(readFileSync(join(__dirname, '..', 'docs', 'test-vectors', 'artifact-v3.json'), 'utf8'));
    const payload = { ...vector.runGrant.payload, id, action, chain: { id: chainId, hop }, ancestors: [chainId], ancestorKids: [vector.key.kid] };
    return signArtifact(payload, { kid: vector.key.kid, seed: Uint8Array.from(Buffer.from(vector.key.seedHex, 'hex')) }, nodeEd25519);
  }

  test('a continue-as-new hop still in the outbox (issued, not chained yet): the id and its chain are revoked, chain first', async () => {
    const signed = hopArtifact('art_outbox_hop', 'continue-as-new', 'art_outbox_chain', 3);
    await db.collection(OUTBOX_COLLECTION).insertOne({ _id: 'art_outbox_hop', rootId: 'art_outbox_chain', signal: { kind: 'artifact', signed }, at: new Date() } as never);
    const r = tg('revoke', 'authorization', 'art_outbox_hop', '--reason', 'hop');
    expect(r.code).toBe(0);
    expect(lines(r.stdout).slice(0, 3)).toEqual([
      'found art_outbox_hop in the lineage outbox (issued, not chained yet): continue-as-new payOrder in pay-order-42/01957e2a-3b1c-7d4e-9f00-000000000042, chain art_outbox_chain hop 3',
      'revoked authorization art_outbox_hop',
      "revoked authorization art_outbox_chain (the chain of art_outbox_hop: a continue-as-new hop is listed by nothing below it, its chain id is; the chain's earlier hops are closed runs)",
    ]);
    const revocations = await db.collection(IDENTITY_COLLECTIONS.revocations).find({ _id: { $in: ['authorization:art_outbox_hop', 'authorization:art_outbox_chain'] } as never }).toArray();
    expect(revocations.map((d) => d.id).sort()).toEqual(['art_outbox_chain', 'art_outbox_hop']);
    // Again: idempotent, says so, changes nothing.
    const again = tg('revoke', 'authorization', 'art_outbox_hop', '--reason', 'other');
    expect(lines(again.stdout).filter((l) => l.includes('already revoked'))).toHaveLength(2);
  });

  test('a dead-lettered run grant of a continued run (library): revoked with its chain; a child-workflow grant alone', async () => {
    const hop = hopArtifact('art_dead_hop', 'workflow', 'art_dead_chain', 2);
    const child = hopArtifact('art_dead_child', 'child-workflow', 'art_dead_chain', 2);
    for (const signed of [hop, child]) {
      await db.collection(DEAD_LETTER_COLLECTION).insertOne({ _id: signed.payload.id, rootId: 'art_dead_chain', signal: { kind: 'artifact', signed }, at: new Date(), reason: 'test', movedAt: new Date() } as never);
    }
    const revokedHop = await revokeAuthorization(db, 'art_dead_hop', 'test');
    expect(revokedHop).toMatchObject({ found: 'dead-letters', artifact: hop.payload });
    expect(revokedHop.revoked.map((r) => [r.id, r.as])).toEqual([
      ['art_dead_hop', 'given'],
      ['art_dead_chain', 'chain'],
    ]);
    // A child-workflow artifact is listed by everything below it: nothing more to revoke (its chain is the parent's, which lives on).
    expect((await revokeAuthorization(db, 'art_dead_child', 'test')).revoked.map((r) => r.id)).toEqual(['art_dead_child']);
  });

  test('a denial is not an authorization: exit 1', () => {
    const r = tg('revoke', 'authorization', 'den_denied');
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual(['temporal-governance: den_denied is a denial, not an authorization; there is nothing to revoke']);
  });
});

describe('MongoDB configuration errors: exit 1, one clear line', () => {
  test('MONGODB_URI missing', () => {
    const r = run(['principals', 'list'], { MONGODB_URI: '' });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual([
      'temporal-governance: MONGODB_URI is not set: point it at the MongoDB that stores identity and lineage (e.g. export MONGODB_URI=mongodb://127.0.0.1:27017)',
    ]);
  });

  test('MongoDB unreachable, without printing the password', () => {
    const r = run(['revoke', 'principal', 'alice'], { MONGODB_URI: 'mongodb://admin:s3cret-pw@127.0.0.1:9/' });
    expect(r.code).toBe(1);
    const err = lines(r.stderr);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^temporal-governance: cannot reach MongoDB at mongodb:\/\/127\.0\.0\.1:9: /);
    expect(r.stderr).not.toContain('s3cret-pw');
    expect(r.stderr).not.toContain('admin:');
  });
});

describe('signing-keys', () => {
  test('generate, then retire: the bundle gets notAfter; retiring the only current key is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-signing-keys-'));
    const bundle = join(dir, 'trust-bundle.json');
    const keys = () => JSON.parse(readFileSync(bundle, 'utf8')).keys as { kid: string; notAfter: string | null }[];

    expect(run(['signing-keys', 'generate', '--key', join(dir, 'k1.json'), '--bundle', bundle, '--kid', 'k1']).code).toBe(0);
    const only = run(['signing-keys', 'retire', '--bundle', bundle, '--kid', 'k1']);
    expect(only.code).toBe(1);
    expect(lines(only.stderr)).toEqual([`temporal-governance: retiring k1 would leave ${bundle} without a current key; add the new key first`]);
    expect(keys()).toEqual([expect.objectContaining({ kid: 'k1', notAfter: null })]);

    expect(run(['signing-keys', 'generate', '--key', join(dir, 'k2.json'), '--bundle', bundle, '--kid', 'k2']).code).toBe(0);
    const at = '2030-01-01T00:00:00.000Z';
    const retired = run(['signing-keys', 'retire', '--bundle', bundle, '--kid', 'k1', '--at', at]);
    expect(retired.code).toBe(0);
    expect(retired.stdout).toContain(`signing key k1 retired in ${bundle} from ${at}`);
    expect(retired.stdout).toContain('artifacts it signed before stay valid');
    expect(retired.stdout).toContain('temporal-governance revoke signing-key k1');
    expect(keys()).toEqual([expect.objectContaining({ kid: 'k1', notAfter: at }), expect.objectContaining({ kid: 'k2', notAfter: null })]);

    // Retiring later never extends a key.
    const later = run(['signing-keys', 'retire', '--bundle', bundle, '--kid', 'k1', '--at', '2031-01-01T00:00:00Z']);
    expect(later.code).toBe(0);
    expect(later.stdout).toContain(`already retired at ${at}`);
    expect(keys()[0]!.notAfter).toBe(at);

    const unknown = run(['signing-keys', 'retire', '--bundle', bundle, '--kid', 'k9']);
    expect(unknown.code).toBe(1);
    expect(lines(unknown.stderr)).toEqual([`temporal-governance: kid "k9" is not in ${bundle}`]);
  });
});
