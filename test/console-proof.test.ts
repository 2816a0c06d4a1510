// The proof endpoints on the real stack: GET /api/proof/:id (record, chain position, revocations,
// the server's verification with the shared checks) and GET /api/trust-bundle, on lineage signed by
// the real authorizer and written by the real persistLineageBatch (test/lineage-fixture.ts).
import { readFileSync } from 'node:fs';
import { revoke } from '../src/identity/store';
import { lineageCollection } from '../src/lineage/store';
import { verifyLineage } from '../src/lineage/verify';
import { CHECK_NAMES } from '../src/lineage/verify-record';
import { ProofResponseSchema, type ProofResponse } from '../src/console/proof-api';
import { startTestConsole, type TestConsole } from './helpers/console';
import { buildLineageFixture, type LineageFixture } from './lineage-fixture';

const T0 = Date.parse('2025-06-01T09:00:00.000Z');

let f: LineageFixture;
let tampered: LineageFixture;
let web: TestConsole;
let tamperedWeb: TestConsole;
let bare: TestConsole;

beforeAll(async () => {
  f = await buildLineageFixture({ base: T0, prefix: 'console_proof' });
  tampered = await buildLineageFixture({ base: T0, prefix: 'console_proof_tampered', keys: f.keys });
  // A signed payload changed in place: its signature and its own hash link break.
  await lineageCollection(tampered.db).updateOne({ _id: tampered.charge2.payload.id }, { $set: { 'artifact.payload.rules': ['allow-everything'], rules: ['allow-everything'] } });
  // carol's root loses its authority (revocations live beside lineage, in the same database).
  await revoke(f.db, 'principal', 'carol', 'left the company', new Date(T0 + 3_600_000));
  web = await startTestConsole({ database: f.database, bundlePath: f.keys.bundlePath });
  tamperedWeb = await startTestConsole({ database: tampered.database, bundlePath: f.keys.bundlePath });
  bare = await startTestConsole({ database: f.database });
});
afterAll(async () => {
  await web?.stop();
  await tamperedWeb?.stop();
  await bare?.stop();
  await tampered?.close();
  await f?.close();
});

async function proof(console: TestConsole, id: string): Promise<ProofResponse> {
  const res = await fetch(`${console.url}/api/proof/${encodeURIComponent(id)}`);
  expect([id, res.status]).toEqual([id, 200]);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return ProofResponseSchema.parse(await res.json());
}
const statuses = (p: ProofResponse) => Object.fromEntries(p.verification!.checks.map((c) => [c.name, c.status]));

describe('GET /api/proof/:id', () => {
  test('a record in the middle of a chain: the stored document, its chain position and every check passing', async () => {
    const id = f.childCharge.payload.id;
    const p = await proof(web, id);
    const stored = await lineageCollection(f.db).findOne({ _id: id });
    expect(p.id).toBe(id);
    expect(p.record).toEqual(JSON.parse(JSON.stringify(stored)));
    expect(p.record.artifact).toEqual(f.childCharge);
    expect(p.chain).toEqual({
      rootId: f.root.payload.id,
      seq: 4,
      prevHash: stored!.prevHash,
      hash: stored!.hash,
      previousId: f.order[3],
      nextId: f.order[5],
      parentId: f.childRun.payload.id,
    });
    expect(p.revocations).toEqual([]);
    expect(p.verification!.ok).toBe(true);
    expect(p.verification!.checks.map((c) => c.name)).toEqual([...CHECK_NAMES]);
    expect(statuses(p)).toEqual({ signature: 'pass', 'key-window': 'pass', binding: 'pass', 'parent-link': 'pass', 'chain-link': 'pass', revocations: 'pass' });
    expect(p.verification!.checks.find((c) => c.name === 'chain-link')!.reason).toBe(
      `seq 4 of root ${f.root.payload.id}: hash is the hash of this link and prevHash is the hash of ${f.order[3]} (seq 3)`,
    );
  });

  test('the root (seq 0, no parent, no previous), the chain head (no next), a denial (revocations do not apply)', async () => {
    const root = await proof(web, f.root.payload.id);
    expect(root.chain).toMatchObject({ seq: 0, previousId: null, nextId: f.order[1], parentId: null });
    expect(root.verification!.ok).toBe(true);
    expect(root.verification!.checks.find((c) => c.name === 'parent-link')!.reason).toBe('no parent: a root run grant, its own root, with no ancestors');
    const head = await proof(web, f.order[9]!);
    expect(head.chain).toMatchObject({ seq: 9, previousId: f.order[8], nextId: null });
    const denial = await proof(web, f.denial.payload.id);
    expect(denial.record).toMatchObject({ decision: 'deny', denyCode: 'AMOUNT_OVER_LIMIT' });
    expect(statuses(denial)).toMatchObject({ signature: 'pass', 'parent-link': 'pass', 'chain-link': 'pass', revocations: 'not-applicable' });
    expect(denial.verification!.ok).toBe(true);
  });

  test('a revoked principal: the revocation is served with the record and the revocations check fails', async () => {
    const p = await proof(web, f.otherCharge.payload.id);
    expect(p.revocations).toEqual([{ kind: 'principal', id: 'carol', reason: 'left the company', at: new Date(T0 + 3_600_000).toISOString() }]);
    expect(p.verification!.ok).toBe(false);
    const failed = p.verification!.checks.filter((c) => c.status === 'fail');
    expect(failed.map((c) => [c.name, c.findings.map((x) => x.code)])).toEqual([['revocations', ['REVOKED']]]);
    expect(failed[0]!.reason).toBe(
      `principal carol was revoked at ${new Date(T0 + 3_600_000).toISOString()}, after this decision was issued (${new Date(f.otherCharge.payload.issuedAt).toISOString()}): "left the company"`,
    );
  });

  test('a tampered record fails the same checks lineage verify names, and its successor\'s chain link fails', async () => {
    const id = tampered.charge2.payload.id;
    const p = await proof(tamperedWeb, id);
    const failed = p.verification!.checks.filter((c) => c.status === 'fail').map((c) => [c.name, c.findings.map((x) => x.code)]);
    expect(failed).toEqual([
      ['signature', ['BAD_SIGNATURE']],
      ['chain-link', ['HASH_MISMATCH']],
    ]);
    // One implementation: the CLI's walk reports exactly these codes for this document.
    const walk = await verifyLineage(tampered.db, tampered.keys.trust, { rootId: tampered.root.payload.id });
    expect(walk.violations.map((v) => [v.id, v.code]).sort()).toEqual(failed.flatMap(([, codes]) => (codes as string[]).map((c) => [id, c])).sort());
    // Verified alone, the next record checks that its predecessor hashes to its own link.
    const next = await proof(tamperedWeb, p.chain.nextId!);
    const link = next.verification!.checks.find((c) => c.name === 'chain-link')!;
    expect(link.status).toBe('fail');
    expect(link.reason).toContain(`the previous record ${id}: its hash`);
  });

  test('a bad id is a 400 naming the rule, an unknown id a JSON 404, a document that does not parse a 422', async () => {
    for (const bad of ['bad id!', '-leading-dash', 'x'.repeat(101)]) {
      const res = await fetch(`${web.url}/api/proof/${encodeURIComponent(bad)}`);
      expect([bad.slice(0, 20), res.status]).toEqual([bad.slice(0, 20), 400]);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe('Bad request');
      expect(body.message).toMatch(/^record id: a record id is 1 to 100 letters, digits and \. _ : -/);
    }
    const unknown = await fetch(`${web.url}/api/proof/art_00000000000000000000000000000000`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'Not found', message: 'no lineage record art_00000000000000000000000000000000' });
    await lineageCollection(tampered.db).updateOne({ _id: tampered.nextCharge.payload.id }, { $set: { depth: 'deep' as unknown as number } });
    const invalid = await fetch(`${tamperedWeb.url}/api/proof/${tampered.nextCharge.payload.id}`);
    expect(invalid.status).toBe(422);
    expect(await invalid.json()).toMatchObject({ error: 'Invalid record', message: expect.stringContaining(`lineage document ${tampered.nextCharge.payload.id} is not a valid lineage record`) });
  });

  test('without a trust bundle the record and its position are served, and verification is null', async () => {
    const p = await proof(bare, f.childCharge.payload.id);
    expect(p.verification).toBeNull();
    expect(p.chain.seq).toBe(4);
  });
});

describe('GET /api/trust-bundle', () => {
  test('serves the --bundle file as parsed: public keys only', async () => {
    const res = await fetch(`${web.url}/api/trust-bundle`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { keys: object[] };
    expect(body).toEqual(JSON.parse(readFileSync(f.keys.bundlePath, 'utf8')));
    expect(Object.keys(body.keys[0]!).sort()).toEqual(['crv', 'kid', 'kty', 'notAfter', 'notBefore', 'x']);
    expect(JSON.stringify(body)).not.toContain('"d"');
  });

  test('a console without --bundle answers a JSON 404', async () => {
    const res = await fetch(`${bare.url}/api/trust-bundle`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'Not found', message: 'this console was started without --bundle: it serves no trust bundle' });
  });
});

describe('the /proof page and its script', () => {
  test('the page loads the bundled script from /assets/, with no inline script', async () => {
    const res = await fetch(`${web.url}/proof?record=${f.childCharge.payload.id}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<script src="/assets/proof-viewer.js" defer></script>');
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).toContain(`data-record="${f.childCharge.payload.id}"`);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  test('bad, unknown and unexpected query parameters are error pages', async () => {
    const bad = await fetch(`${web.url}/proof?record=${encodeURIComponent('<script>')}`);
    expect(bad.status).toBe(400);
    const badHtml = await bad.text();
    expect(badHtml).toContain('record: a record id is 1 to 100 letters');
    expect(badHtml).not.toContain('<script>');
    const unknown = await fetch(`${web.url}/proof?record=art_nope`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('no lineage record art_nope');
    const extra = await fetch(`${web.url}/proof?id=x`);
    expect(extra.status).toBe(400);
    expect((await fetch(`${web.url}/proof?record=`)).status).toBe(200);
  });

  test('the script is one esbuild bundle for the browser: no require, no Node built-in', async () => {
    const res = await fetch(`${web.url}/assets/proof-viewer.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const js = await res.text();
    expect(js.length).toBeGreaterThan(10_000);
    expect(js).not.toMatch(/\brequire\(/);
    expect(js).not.toMatch(/["'`]node:[a-z]/);
    // The shared module's messages are in it: the browser runs the same checks.
    expect(js).toContain('is not in the trust bundle');
    expect(js).toContain('is not the hash of this document');
  });
});
