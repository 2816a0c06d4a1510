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
