// Console load times on a large root: `npx ts-node --transpile-only bench/console.ts [--records N] [--runs R]`.
// Starts its own dev stack (Temporal dev server + the local MongoDB-wire server), persists one root
// of N records (default 10,000: a run grant and N-1 activity decisions, real signatures, through
// persistLineageBatch as the lineage workflow does), starts the console on it and measures:
//   1. server response time (time to the full body, over loopback) of the pages and fragments a
//      reader of that root loads, R times each;
//   2. in Chromium: the root page's load (navigation timing) and one "load more children" click
//      until its 100 nodes are in the page, R times each.
// Prints two tables. Nothing is asserted: these are measurements. BENCH_CONSOLE_DEBUG=1 also logs
// how long each of the root page's reads takes on its own.
import { Client, Connection } from '@temporalio/client';
import type { Browser } from 'playwright-core';
import { ensureLineageIndexes, connectLineage } from '../src/lineage/store';
import { parseConsoleOptions } from '../src/console/options';
import { startConsole } from '../src/console/server';
import { startDevStack, stopOnSignals } from '../src/stack/stack';
import { launchChromium } from '../test/helpers/browser';
import { makeKeys, persistLargeRoot } from '../test/lineage-fixture';
import { machineInfo, summarize, table } from './util';

class UsageError extends Error {}
const USAGE = 'usage: npx ts-node --transpile-only bench/console.ts [--records N] [--runs R]';

function parseArgs(argv: readonly string[]): { records: number; runs: number } {
  const options = { records: 10_000, runs: 10 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = Number(inline ?? argv[++i]);
    if (!Number.isInteger(value) || value < 2) throw new UsageError(`${flag} needs an integer >= 2`);
    if (flag === '--records') options.records = value;
    else if (flag === '--runs') options.runs = value;
    else throw new UsageError(`unknown option ${flag}`);
  }
  return options;
}

const log = (line: string) => process.stderr.write(`[bench:console] ${line}\n`);
const print = (text: string) => process.stdout.write(`${text}\n`);

async function timed(url: string): Promise<{ ms: number; bytes: number; status: number }> {
  const started = process.hrtime.bigint();
  const res = await fetch(url);
  const body = await res.arrayBuffer();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, bytes: body.byteLength, status: res.status };
}

async function main(): Promise<void> {
  const { records, runs } = parseArgs(process.argv.slice(2));
  print('temporal-governance console benchmark');
  print(machineInfo());
  const stack = await startDevStack({ name: 'bench-console', log: (line) => log(`stack: ${line}`) });
  stopOnSignals(stack);
  const keys = makeKeys('bench-console-key', Date.now() - 86_400_000);
  let browser: Browser | undefined;
  const database = `bench_console_${process.pid}`;
  const mongo = await connectLineage(stack.mongoUri!, database);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  try {
    print(stack.description.join('\n'));
    await ensureLineageIndexes(mongo.db);
    log(`persisting one root of ${records} records`);
    const persistStarted = Date.now();
    const ids = await persistLargeRoot(mongo.db, keys, records - 1, Date.now() - 3_600_000, { carryHead: true });
    log(`persisted in ${((Date.now() - persistStarted) / 1000).toFixed(1)} s`);
    if (process.env.BENCH_CONSOLE_DEBUG) {
      const q = await import('../src/lineage/queries');
      for (const [name, fn] of [
        ['getRecord', () => q.getRecord(mongo.db, ids[0]!)],
        ['countRecords', () => q.countRecords(mongo.db, ids[0]!)],
        ['countRootDenials', () => q.countRootDenials(mongo.db, ids[0]!)],
        ['childrenOf', () => q.childrenOf(mongo.db, ids[0]!, { limit: 100 })],
        ['outcomesOfMany', () => q.outcomesOfMany(mongo.db, ids.slice(0, 100))],
      ] as const) {
        const t = Date.now();
        try {
          await (fn as () => Promise<unknown>)();
          log(`${name}: ${Date.now() - t} ms`);
        } catch (err) {
          log(`${name} FAILED after ${Date.now() - t} ms: ${(err as Error).message}`);
        }
      }
    }
    const [root, ...children] = ids;
    const middle = children[Math.floor(children.length / 2)]!;
    const options = parseConsoleOptions({ port: 0, database, webUiUrl: stack.uiUrl ?? undefined });
    const running = await startConsole({ options, db: mongo.db, temporal: new Client({ connection, namespace: options.namespace }), trust: keys.trust, trustDocument: undefined });
    try {
      const workflowId = String((await mongo.db.collection('lineage').findOne({ _id: root as never }))!.workflowId);
      const targets: Array<[string, string]> = [
        ['root page (root + first 100 children)', `/lineage/roots/${root}`],
        ['children fragment, 100 from seq 5,000', `/lineage/records/${root}/children?after=${Math.floor(records / 2)}`],
        ['children fragment, last page', `/lineage/records/${root}/children?after=${records - 50}`],
        ['search: workflow id, 50 per page', `/lineage?workflowId=${encodeURIComponent(workflowId)}`],
        ['search: denials of the root, 50', `/lineage?decision=deny&workflowId=${encodeURIComponent(workflowId)}`],
        ['search: no filter, 200 per page', '/lineage?limit=200'],
        ['record page (one activity decision)', `/lineage/records/${middle}`],
      ];
      const rows: Array<Array<string | number>> = [];
      for (const [name, path] of targets) {
        await timed(`${running.url}${path}`); // warm-up
        const sample: number[] = [];
        let bytes = 0;
        for (let i = 0; i < runs; i++) {
          const r = await timed(`${running.url}${path}`);
          if (r.status !== 200) throw new Error(`${path} answered ${r.status} after ${r.ms.toFixed(0)} ms`);
          sample.push(r.ms);
          bytes = r.bytes;
        }
        const s = summarize(sample);
        rows.push([name, s.p50, s.p95, s.max, Math.round(bytes / 1024)]);
      }
      print(
        table(`Server response time, root of ${records.toLocaleString('en')} records (ms, ${runs} runs each)`, ['Request', 'p50', 'p95', 'max', 'KiB'], rows, [
          'Time to the last byte over loopback, measured by the client; the console and the MongoDB-wire server share this machine.',
        ]),
      );

      log('measuring in chromium');
      browser = await launchChromium();
      const loads: number[] = [];
      const ready: number[] = [];
      const more: number[] = [];
      let domNodes = 0;
      let treeNodes = 0;
      for (let i = 0; i < runs; i++) {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        await page.goto(`${running.url}/lineage/roots/${root}`, { waitUntil: 'load', timeout: 180_000 });
        // Page code as strings: the project's lib has no DOM types.
        const timing = await page.evaluate<{ load: number; dcl: number }>(
          "(() => { const nav = performance.getEntriesByType('navigation')[0]; return { load: nav.loadEventEnd - nav.startTime, dcl: nav.domContentLoadedEventEnd - nav.startTime }; })()",
        );
        loads.push(timing.load);
        ready.push(timing.dcl);
        const before = await page.locator('li.node').count();
        const started = await page.evaluate<number>('performance.now()');
        await page.click('li.more button[data-more]');
        // The 100th new node is in the page (FerretDB's scans make this slow: allow minutes, not 30 s).
        await page.locator('li.node').nth(before + 99).waitFor({ state: 'attached', timeout: 180_000 });
        more.push((await page.evaluate<number>('performance.now()')) - started);
        domNodes = await page.evaluate<number>("document.getElementsByTagName('*').length");
        treeNodes = await page.locator('li.node').count();
        await page.close();
      }
      const l = summarize(loads);
      const d = summarize(ready);
      const m = summarize(more);
      print(
        table(`Chromium, root of ${records.toLocaleString('en')} records (ms, ${runs} runs each)`, ['Measure', 'p50', 'p95', 'max'], [
          ['root page: DOMContentLoaded', d.p50, d.p95, d.max],
          ['root page: load event', l.p50, l.p95, l.max],
          ['"load more children" click -> 100 more nodes in the page', m.p50, m.p95, m.max],
        ], [`After one "load more": ${treeNodes} tree nodes, ${domNodes} DOM elements in the page (of ${records.toLocaleString('en')} records in the root).`]),
      );
    } finally {
      await running.close();
    }
  } finally {
    await browser?.close();
    await mongo.db.dropDatabase().catch(() => undefined);
    await mongo.client.close();
    await connection.close();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`\nbench FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
