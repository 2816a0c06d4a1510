// Cost of the lineage store's per-batch work as the store grows: the chain head read of a fresh
// lineage run and one persist batch, at growing numbers of lineage records (generated directly in a
// scratch database), against the MongoDB-wire server at MONGODB_URI.
//
//   MONGODB_URI=mongodb://127.0.0.1:27017/ npx ts-node --transpile-only bench/store-scale.ts [--sizes 1000,10000,100000] [--store ./src/lineage/store]
//
// --store names another implementation of src/lineage/store.ts to measure (e.g. an older copy);
// prints one line per size: head read p50 (fresh run), persist of a 50-record batch as a fresh
// run's first batch (head read included), and as a later batch (head carried).
import { MongoClient, type Db } from 'mongodb';
import { resolve } from 'node:path';
import type { LineageSignal, LineageRecord } from '../src/lineage/schema';
import type { SignedArtifact, SignedDenial } from '../src/common/schemas';
import { signingInput } from '../src/artifact/artifact';
import { fromBase64Url } from '../src/common/base64url';
import { nodeEd25519 } from '../src/crypto/node';
import { makeKeys, persistLargeRoot } from '../test/lineage-fixture';

type Store = typeof import('../src/lineage/store');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('set MONGODB_URI');
  const sizes = arg('sizes', '1000,10000,100000').split(',').map(Number);
  const store: Store = await import(resolve(arg('store', resolve(__dirname, '../src/lineage/store'))));
  const client = await MongoClient.connect(uri);
  const keys = makeKeys('scale-key', Date.parse('2025-01-01T00:00:00Z'));
  const verify = (signed: SignedArtifact | SignedDenial) => {
    const key = keys.trust.keys.get(signed.payload.kid);
    return !!key && nodeEd25519.verify(fromBase64Url(signed.signature), signingInput(signed.payload), key);
  };
  // Real signed decisions: one root of 300 for the measured batches, laid out by the real code.
  const source = client.db(`store_scale_src_${process.pid}`);
  await source.dropDatabase();
  const base = Date.parse('2025-02-01T00:00:00Z');
  const ids = await persistLargeRoot(source, keys, 299, base, { carryHead: true });
  const docs = await source.collection<LineageRecord>('lineage').find({}).sort({ seq: 1 }).toArray();
  const signals: LineageSignal[] = docs.map((d) => (d.artifact ? { kind: 'artifact', signed: d.artifact } : { kind: 'denial', signed: d.denial! }));
  const template = docs[1]!;

  const db: Db = client.db(`store_scale_${process.pid}`);
  await db.dropDatabase();
  await store.ensureLineageIndexes(db);
  const roots = 1000;
  let filled = 0;
  const heads = new Map<string, { seq: number; hash: string; recordId: string }>();
  console.log(`store: ${arg('store', 'src/lineage/store')}  server: ${uri.replace(/\/\/[^@]*@/, '//')}`);
  console.log('records  head-read-p50-ms  fresh-run-batch50-ms  carried-batch50-ms');
  for (const size of sizes) {
    // Filler records of 1,000 other roots, shaped like real ones (same fields and sizes).
    while (filled < size) {
      const n = Math.min(1000, size - filled);
      const chunk = Array.from({ length: n }, (_, k) => {
        const i = filled + k;
        const rootId = `filler-root-${i % roots}`;
        const seq = Math.floor(i / roots);
        const hash = `sha256:${(i + 1).toString(16).padStart(64, '0')}`;
        heads.set(rootId, { seq, hash, recordId: `filler-${i}` });
        return { ...template, _id: `filler-${i}`, rootId, seq, hash, workflowId: `filler-wf-${i % roots}`, runId: `filler-run-${i % roots}`, issuedAt: new Date(base + i) };
      });
      await db.collection('lineage').insertMany(chunk as never[], { ordered: false });
      filled += n;
    }
    if ('LINEAGE_HEADS_COLLECTION' in store) {
      await db.collection(store.LINEAGE_HEADS_COLLECTION).deleteMany({});
      await db.collection(store.LINEAGE_HEADS_COLLECTION).insertMany([...heads].map(([rootId, h]) => ({ _id: rootId, ...h, at: new Date() })) as never[]);
    }
    // Head read of a fresh run of an existing root: what persisting a batch with head null does first.
    const headTimes: number[] = [];
    for (let r = 0; r < 5; r++) {
      const rootId = `filler-root-${(r * 37) % roots}`;
      const t = process.hrtime.bigint();
      if ('readChainHead' in store) await store.readChainHead(db, rootId);
      else await db.collection('lineage').find({ rootId, _id: { $nin: [] } } as never, { projection: { seq: 1, hash: 1 } }).sort({ seq: -1 }).limit(1).next();
      headTimes.push(ms(t));
    }
    // One batch of 50 as a fresh run's first batch, then 50 more with the head carried.
    await db.collection('lineage').deleteMany({ rootId: ids[0] });
    if ('LINEAGE_HEADS_COLLECTION' in store) await db.collection(store.LINEAGE_HEADS_COLLECTION).deleteOne({ _id: ids[0] as never });
    let t = process.hrtime.bigint();
    const first = await store.persistLineageBatch(db, ids[0]!, signals.slice(0, 50), verify, undefined, { head: null });
    const freshMs = ms(t);
    t = process.hrtime.bigint();
    await store.persistLineageBatch(db, ids[0]!, signals.slice(50, 100), verify, undefined, { head: first.head });
    const carriedMs = ms(t);
    console.log(`${String(size).padStart(7)}  ${median(headTimes).toFixed(1).padStart(16)}  ${freshMs.toFixed(1).padStart(20)}  ${carriedMs.toFixed(1).padStart(18)}`);
  }
  await db.dropDatabase();
  await source.dropDatabase();
  await client.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
