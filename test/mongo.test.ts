// The MongoDB-wire server of the dev stack (FerretDB by default, or MONGODB_URI) serves what lineage
// needs from the official driver: inserts, unique indexes and array-contains queries.
import { MongoClient, MongoServerError } from 'mongodb';
import { uniqueName } from './helpers/harness';

let client: MongoClient;
beforeAll(async () => {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new Error('MONGODB_URI is not set: run the tests through jest (global-setup starts the stack)');
  client = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 10_000 });
});
afterAll(async () => client?.close());

test('insert, unique index and array-contains query work through the official driver', async () => {
  const collection = client.db(uniqueName('driver').replace(/-/g, '_')).collection<{ _id: string; root: string; ancestors: string[]; seq: number }>('records');
  await collection.createIndex({ root: 1, seq: 1 }, { unique: true });
  await collection.createIndex({ ancestors: 1 });
  await collection.insertMany([
    { _id: 'root', root: 'root', ancestors: [], seq: 0 },
    { _id: 'child', root: 'root', ancestors: ['root'], seq: 1 },
    { _id: 'grandchild', root: 'root', ancestors: ['root', 'child'], seq: 2 },
  ]);

  const duplicate = await collection.insertOne({ _id: 'other', root: 'root', ancestors: [], seq: 1 }).then(() => undefined, (e: unknown) => e);
  expect(duplicate).toBeInstanceOf(MongoServerError);
  expect((duplicate as MongoServerError).code).toBe(11000);

  const descendants = await collection.find({ ancestors: 'root' }).sort({ seq: 1 }).toArray();
  expect(descendants.map((d) => d._id)).toEqual(['child', 'grandchild']);
  expect(await collection.countDocuments({ ancestors: 'child' })).toBe(1);
  expect(await collection.countDocuments()).toBe(3);
});

test('group commit (GroupedInserts): concurrent inserts leave as a few commands, each caller learns its own outcome, duplicates included', async () => {
  const { GroupedInserts } = await import('../src/lineage/grouped-insert');
  const { claimArtifact } = await import('../src/identity/store');
  const name = uniqueName('grouped').replace(/-/g, '_');
  const monitored = await MongoClient.connect(process.env.MONGODB_URI!, { serverSelectionTimeoutMS: 10_000, monitorCommands: true });
  try {
    let inserts = 0;
    monitored.on('commandStarted', (e) => {
      if (e.commandName === 'insert') inserts += 1;
    });
    const collection = monitored.db(name).collection<{ _id: string; n: number }>('docs');
    await collection.insertOne({ _id: 'taken', n: -1 });
    inserts = 0;
    const group = new GroupedInserts(collection);
    // 60 at once: one already stored, one asked twice in the same burst.
    const ids = [...Array.from({ length: 58 }, (_, i) => `d${i}`), 'taken', 'd7'];
    const outcomes = await Promise.all(ids.map((_id, n) => group.insert({ _id, n })));
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(2);
    expect(outcomes[58]).toBe('duplicate');
    expect(outcomes[59]).toBe('duplicate');
    expect(outcomes.slice(0, 58).every((o) => o === 'inserted')).toBe(true);
    expect(await collection.countDocuments({})).toBe(59);
    expect((await collection.findOne({ _id: 'd7' }))!.n).toBe(7); // the first of the two stands
    expect(inserts).toBeLessThanOrEqual(2); // the first alone, then the rest together
    expect(inserts).toBeGreaterThanOrEqual(1);

    // The claim API on top: concurrent claims of one artifact, same scheduling and another one.
    const db = monitored.db(name);
    const claim = { _id: 'art_grouped', scheduledAt: 1, workflowId: 'wf', runId: 'run', activityId: '1' };
    const results = await Promise.all([claimArtifact(db, claim), claimArtifact(db, claim), claimArtifact(db, { ...claim, scheduledAt: 2 })]);
    expect(results[0]).toBe('claimed');
    expect(results.slice(1).sort()).toEqual(['replayed', 'same']);
    await monitored.db(name).dropDatabase();
  } finally {
    await monitored.close();
  }
});
