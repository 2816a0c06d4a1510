// The lineage explorer over real signed lineage in the real MongoDB-wire server: every search
// filter, keyset pagination, the root tree and its children pages, the record page, bad input and
// unknown ids, and escaping of whatever a record holds.
import type { MongoClient } from 'mongodb';
import { searchLineage } from '../src/lineage/queries';
import { ensureLineageIndexes } from '../src/lineage/store';
import { startTestConsole, type TestConsole } from './helpers/console';
import { buildLineageFixture, persistDeniedRoot, persistLargeRoot, type LineageFixture } from './lineage-fixture';

const BASE = Date.UTC(2025, 5, 1, 9, 0, 0);
const SCRIPT_PRINCIPAL = '<script>alert("principal")</script>';
const SCRIPT_WORKFLOW = 'order-<b>45</b>';
const WEB_UI = 'http://ui.example:8233';

let fx: LineageFixture;
let ui: TestConsole;
/** A console over a database holding one root with 205 children (three pages of them). */
let largeUi: TestConsole;
let scriptRoot: string;
let largeRoot: string[];

beforeAll(async () => {
  fx = await buildLineageFixture({ base: BASE, prefix: 'console_explorer' });
  scriptRoot = (await persistDeniedRoot(fx.db, fx.keys, SCRIPT_PRINCIPAL, SCRIPT_WORKFLOW, [{ note: '<img src=x onerror=alert(1)>' }], BASE - 3_600_000)).payload.id;
  ui = await startTestConsole({ database: fx.database, webUiUrl: WEB_UI });
  const largeDb = fx.client.db(`${fx.database}_large`);
  await ensureLineageIndexes(largeDb);
  largeRoot = await persistLargeRoot(largeDb, fx.keys, 205, BASE - 86_400_000);
  largeUi = await startTestConsole({ database: largeDb.databaseName });
});
afterAll(async () => {
  await ui?.stop();
  await largeUi?.stop();
  await fx?.client.db(`${fx.database}_large`).dropDatabase().catch(() => undefined);
  await fx?.close();
});

const get = async (path: string, on: TestConsole = ui) => {
  const res = await fetch(`${on.url}${path}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', html: await res.text() };
};

/** Record ids of a results table, in page order. */
const resultIds = (html: string) => [...html.matchAll(/<td><a href="\/lineage\/records\/([^"]+)"><code>/g)].map((m) => decodeURIComponent(m[1]!));
const search = async (query: string) => {
  const page = await get(`/lineage?${query}`);
  expect(page.status).toBe(200);
  return resultIds(page.html);
};
const nextHref = (html: string) => /<a href="([^"]+)" rel="next">/.exec(html)?.[1]?.replace(/&amp;/g, '&') ?? null;
const sorted = (ids: string[]) => [...ids].sort();

describe('search', () => {
  test('without filters: every record, newest first', async () => {
    const ids = await search('limit=200');
    expect(ids).toHaveLength(10 + 2 + 1 + 1);
    expect(ids[0]).toBe(fx.otherCharge.payload.id);
  });

  test('by principal', async () => {
    expect(sorted(await search('principal=alice'))).toEqual(sorted(fx.order));
    expect(sorted(await search('principal=carol'))).toEqual(sorted([fx.otherRoot.payload.id, fx.otherCharge.payload.id]));
    expect(await search('principal=nobody')).toEqual([]);
  });

  test('by workflow id and by run id', async () => {
    expect(sorted(await search('workflowId=order-42-shipping'))).toEqual(sorted([fx.childRun, fx.childCharge, fx.denial].map((s) => s.payload.id)));
    expect(sorted(await search('runId=run-root-2'))).toEqual(sorted([fx.nextRun, fx.nextCharge].map((s) => s.payload.id)));
  });

  test('by action, by target, by both', async () => {
    expect(await search('action=local-activity')).toEqual([fx.nextCharge.payload.id]);
    expect(sorted(await search('target=chargeShipping'))).toEqual(sorted([fx.childCharge.payload.id, fx.denial.payload.id]));
    expect(sorted(await search('action=activity&target=charge'))).toEqual(sorted([fx.charge2, fx.charge1, fx.otherCharge].map((s) => s.payload.id)));
    expect(sorted(await search('action=child-workflow'))).toEqual([fx.childGrant.payload.id]);
  });

  test('by decision and by deny code', async () => {
    expect(await search('decision=deny')).toEqual([fx.denial, { payload: { id: scriptRoot } }, fx.deniedRoot].map((s) => s.payload.id));
    expect(await search('denyCode=AMOUNT_OVER_LIMIT&workflowId=order-42-shipping')).toEqual([fx.denial.payload.id]);
    const allowed = await search('decision=allow&principal=carol');
    expect(sorted(allowed)).toEqual(sorted([fx.otherRoot.payload.id, fx.otherCharge.payload.id]));
  });

  test('roots only', async () => {
    expect(sorted(await search('roots=1'))).toEqual(sorted([fx.root.payload.id, fx.otherRoot.payload.id, fx.deniedRoot.payload.id, scriptRoot]));
  });

  test('by time range: from inclusive, to exclusive, with or without a zone', async () => {
    // Decisions are issued one second apart from BASE: root at +1 s, charge1 +2 s, childGrant +3 s, childRun +4 s, childCharge +5 s, denial +6 s.
    const from = new Date(BASE + 3_000).toISOString();
    const to = new Date(BASE + 6_000).toISOString();
    expect(await search(`from=${from}&to=${to}`)).toEqual([fx.childCharge, fx.childRun, fx.childGrant].map((s) => s.payload.id));
    expect(await search('from=2025-06-01T11:00:03%2B02:00&to=2025-06-01T09:00:06')).toEqual([fx.childCharge, fx.childRun, fx.childGrant].map((s) => s.payload.id));
  });

  test('pages follow each other with a cursor, keep the filters, and never repeat or skip a record', async () => {
    const all = await search('principal=alice');
    expect(all).toHaveLength(10);
    const seen: string[] = [];
    let href: string | null = '/lineage?principal=alice&limit=3';
    let pages = 0;
    while (href) {
      const page = await get(href);
      expect(page.status).toBe(200);
      expect(page.html).toContain('value="alice"');
      const ids = resultIds(page.html);
      expect(ids.length).toBeLessThanOrEqual(3);
      seen.push(...ids);
      href = nextHref(page.html);
      if (href) expect(href).toContain('principal=alice');
      pages += 1;
    }
    expect(pages).toBe(4);
    expect(seen).toEqual(all);
  });

  test('records with the same issuedAt are paged by id, none lost', async () => {
    // Raw documents (they do not parse: reported as invalid, still paged) sharing one issuedAt.
    const scratch = (fx.client as MongoClient).db(`${fx.database}_ties`);
    const at = new Date(BASE);
    await scratch.collection('lineage').insertMany(['t5', 't1', 't4', 't2', 't3'].map((id) => ({ _id: id as never, issuedAt: at })));
    try {
      const got: string[] = [];
      let after;
      do {
        const page = await searchLineage(scratch, { limit: 2, after });
        got.push(...page.items.map((p) => (p.ok ? p.record._id : p.id)));
        expect(page.items.every((p) => !p.ok)).toBe(true);
        after = page.next ?? undefined;
      } while (after);
      expect(got).toEqual(['t1', 't2', 't3', 't4', 't5']);
    } finally {
      await scratch.dropDatabase();
    }
  });

  test('bad filters get a 400 page that says what is wrong', async () => {
    const cases: Array<[string, string]> = [
      ['decision=maybe', 'decision must be one of allow, deny'],
      ['action=shell', 'action must be one of workflow, activity, local-activity, child-workflow, continue-as-new'],
      ['from=yesterday', 'from must be an ISO 8601 date or time'],
      ['from=2025-02-30', 'from must be an ISO 8601 date or time'],
      ['from=2025-06-02&to=2025-06-01', 'to must be later than from'],
      ['limit=0', 'limit must be a whole number from 1 to 200'],
      ['limit=5000', 'limit must be a whole number from 1 to 200'],
      ['cursor=not-a-cursor', 'cursor is not one this console made'],
      ['denyCode=lower', 'deny code must be upper case letters'],
      ['principle=alice', 'unknown parameter(s) &quot;principle&quot;'],
      ['principal=a&principal=b', 'principal must be given once, as text'],
      ['decision=allow&denyCode=AMOUNT_OVER_LIMIT', 'a deny code only matches denials'],
    ];
    for (const [query, message] of cases) {
      const page = await get(`/lineage?${query}`);
      expect({ query, status: page.status }).toEqual({ query, status: 400 });
      expect(page.type).toContain('text/html');
      expect(page.html).toContain('bad search: ');
      expect(page.html).toContain(message);
      expect(page.html).not.toMatch(/at \S+ \(/);
    }
  });
});

describe('root tree', () => {
  test('shows the root with its first level of children; grants load theirs through the children fragment', async () => {
    const page = await get(`/lineage/roots/${fx.root.payload.id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('<script src="/assets/explorer.js" defer></script>');
    expect(page.html).toContain(`data-counts="/lineage/roots/${fx.root.payload.id}/counts"`);
    const counts = await get(`/lineage/roots/${fx.root.payload.id}/counts`);
    expect(counts.html).toContain('<span id="root-records">10</span>');
    expect(counts.html).toContain('<span id="root-denials">1</span>');
    expect((await get('/lineage/roots/art_00000000000000000000000000000000/counts')).status).toBe(404);
    const nodes = [...page.html.matchAll(/<li class="node node-(allow|deny)" data-id="([^"]+)"/g)].map((m) => m[2]);
    expect(nodes).toEqual([fx.root, fx.charge1, fx.childGrant, fx.charge2, fx.continueGrant].map((s) => s.payload.id));
    expect(page.html).toContain(`data-children="/lineage/records/${fx.childGrant.payload.id}/children"`);
    // Activities are leaves: no children button.
    expect(page.html).not.toContain(`data-children="/lineage/records/${fx.charge1.payload.id}/children"`);
    // Node details: rules, policy version, roles, outcomes.
    expect(page.html).toContain('allow-small-charges');
    expect(page.html).toContain(fx.root.payload.policy.version);
    expect(page.html).toContain('operator');
    expect(page.html).toContain('<span class="outcome completed">completed, attempt 1');

    const child = await get(`/lineage/records/${fx.childGrant.payload.id}/children`);
    expect(child.status).toBe(200);
    expect(child.html).not.toContain('<html');
    expect([...child.html.matchAll(/data-id="([^"]+)"/g)].map((m) => m[1])).toEqual([fx.childRun.payload.id]);
    const grandchildren = await get(`/lineage/records/${fx.childRun.payload.id}/children`);
    expect([...grandchildren.html.matchAll(/data-id="([^"]+)"/g)].map((m) => m[1])).toEqual([fx.childCharge.payload.id, fx.denial.payload.id]);
    expect(grandchildren.html).toContain('<span class="outcome failed">failed (CardDeclined), attempt 1');
    expect(grandchildren.html).toContain('AMOUNT_OVER_LIMIT');
    const leaf = await get(`/lineage/records/${fx.charge1.payload.id}/children`);
    expect(leaf.html).toContain('(no children)');
  });

  test('a large root renders one page of children and pages the rest by seq', async () => {
    const [root, ...children] = largeRoot;
    const page = await get(`/lineage/roots/${root}`, largeUi);
    expect((await get(`/lineage/roots/${root}/counts`, largeUi)).html).toContain('<span id="root-records">206</span>');
    const first = [...page.html.matchAll(/<li class="node node-(?:allow|deny)" data-id="([^"]+)"/g)].map((m) => m[1]);
    expect(first).toEqual([root, ...children.slice(0, 100)]);
    expect(page.html).toContain(`data-more="/lineage/records/${root}/children?after=100"`);
    const second = await get(`/lineage/records/${root}/children?after=100`, largeUi);
    expect([...second.html.matchAll(/data-id="([^"]+)"/g)].map((m) => m[1])).toEqual(children.slice(100, 200));
    expect(second.html).toContain(`data-more="/lineage/records/${root}/children?after=200"`);
    const third = await get(`/lineage/records/${root}/children?after=200`, largeUi);
    expect([...third.html.matchAll(/data-id="([^"]+)"/g)].map((m) => m[1])).toEqual(children.slice(200));
    expect(third.html).not.toContain('data-more');
    expect((await get(`/lineage/records/${root}/children?after=ten`, largeUi)).status).toBe(400);
  });

  test('a record below a root opens as a subtree linking its root', async () => {
    const page = await get(`/lineage/roots/${fx.childRun.payload.id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('Subtree');
    expect(page.html).toContain(`href="/lineage/roots/${fx.root.payload.id}"`);
  });
});

describe('record page', () => {
  test('a denial: why (code, reason, rules), who, which policy, its place in the tree and its links', async () => {
    const page = await get(`/lineage/records/${fx.denial.payload.id}`);
    expect(page.status).toBe(200);
    const p = fx.denial.payload;
    expect(page.html).toContain(`<code id="deny-code">AMOUNT_OVER_LIMIT</code>`);
    expect(page.html).toContain(`<p id="deny-reason">${p.reason}</p>`);
    expect(page.html).toContain('deny-large-charges');
    expect(page.html).toContain('alice');
    expect(page.html).toContain(p.policy.version);
    expect(page.html).toContain(`default/order-42-shipping/run-child-1`);
    expect(page.html).toContain(`href="/proof?record=${p.id}"`);
    expect(page.html).toContain(`href="${WEB_UI}/namespaces/default/workflows/order-42-shipping/run-child-1/history"`);
    expect(page.html).toContain(`href="/lineage/records/${fx.childRun.payload.id}"`); // parent
    expect(page.html).toContain(`href="/lineage/roots/${fx.root.payload.id}"`);
    // Ancestry, root first.
    const ancestry = page.html.slice(page.html.indexOf('<ol class="ancestry">'));
    const order = [fx.root, fx.childGrant, fx.childRun].map((s) => ancestry.indexOf(s.payload.id));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(page.html).toContain(fx.denial.signature);
    // No Temporal run behind the fixture: the arguments are not shown, and the page says why.
    expect(page.html).toContain('not available: cannot read run order-42-shipping/run-child-1 from Temporal');
  });

  test('an allowed activity shows its roles, outcomes, and a grant its children', async () => {
    const charge = await get(`/lineage/records/${fx.childCharge.payload.id}`);
    expect(charge.html).toContain('<td class="outcome failed">failed</td><td>CardDeclined</td>');
    expect(charge.html).toContain('operator');
    const grant = await get(`/lineage/records/${fx.childRun.payload.id}`);
    expect(grant.html).toContain('2 child record(s)');
    expect(grant.html).toContain(`href="/lineage/records/${fx.childCharge.payload.id}"`);
    expect(grant.html).toContain(`href="/lineage/records/${fx.denial.payload.id}"`);
  });

  test('unknown ids are a 404 page, malformed ones a 400 page', async () => {
    for (const path of ['/lineage/records/art_00000000000000000000000000000000', '/lineage/roots/art_00000000000000000000000000000000', '/lineage/records/art_0/children', '/lineage/records/art_0/arguments']) {
      const page = await get(path);
      expect({ path, status: page.status }).toEqual({ path, status: 404 });
      expect(page.html).toMatch(/no lineage record art_0+ in database/);
    }
    const bad = await get('/lineage/records/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('a record id has only letters, digits');
    expect(bad.html).not.toContain('<script>alert');
  });
});

test('whatever a record holds is shown as text, never as markup', async () => {
  const results = await get(`/lineage?principal=${encodeURIComponent(SCRIPT_PRINCIPAL)}`);
  expect(resultIds(results.html)).toEqual([scriptRoot]);
  expect(results.html).toContain('&lt;script&gt;alert(&quot;principal&quot;)&lt;/script&gt;');
  expect(results.html).toContain('order-&lt;b&gt;45&lt;/b&gt;');
  const record = await get(`/lineage/records/${scriptRoot}`);
  expect(record.status).toBe(200);
  for (const html of [results.html, record.html]) {
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<b>45</b>');
    // The only scripts are the console's own file.
    expect([...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]).every((tag) => tag === '<script src="/assets/explorer.js" defer>')).toBe(true);
  }
  expect(record.html).toContain('&lt;script&gt;alert(&quot;principal&quot;)&lt;/script&gt;');
  const tree = await get(`/lineage/roots/${scriptRoot}`);
  expect(tree.html).toContain('&lt;script&gt;alert(&quot;principal&quot;)&lt;/script&gt;');
  expect(tree.html).not.toContain('<script>alert');
});
