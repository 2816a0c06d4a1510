// The MongoDB connection every CLI command that reads or writes lineage or identity shares: reads
// MONGODB_URI, connects to `--database` (default DEFAULT_DATABASE), and turns what an operator can
// act on (no URI, unreachable server, a malformed document) into a one-line OperatorError.
// The MongoDB driver loads only when a command connects.
import { describeMongoUri } from '../identity/mongo-uri';
import type { Db } from 'mongodb';
import { OperatorError } from '../operators/denials';

/** A MongoDB URI as it may be printed: scheme and hosts, never credentials or options. */
export function redactUri(uri: string): string {
  return describeMongoUri(uri);
}

const firstLine = (text: string) => text.split('\n')[0] ?? text;

/** `stores` completes "point it at the MongoDB that stores ..." when MONGODB_URI is missing. */
export async function withMongoDb<T>(database: string | undefined, fn: (db: Db) => Promise<T>, stores = 'lineage'): Promise<T> {
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new OperatorError(`MONGODB_URI is not set: point it at the MongoDB that stores ${stores} (e.g. export MONGODB_URI=mongodb://127.0.0.1:27017)`);
  const { connectLineage, DEFAULT_DATABASE } = await import('../lineage/store');
  const { LineageDocumentError } = await import('../lineage/queries');
  let connection: Awaited<ReturnType<typeof connectLineage>>;
  try {
    connection = await connectLineage(uri, database ?? DEFAULT_DATABASE);
  } catch (err) {
    throw new OperatorError(`cannot reach MongoDB at ${redactUri(uri)}: ${firstLine((err as Error).message)}`);
  }
  try {
    return await fn(connection.db);
  } catch (err) {
    if (err instanceof LineageDocumentError) throw new OperatorError(err.message);
    if (err instanceof Error && err.name.startsWith('Mongo')) throw new OperatorError(`MongoDB at ${redactUri(uri)}: ${firstLine(err.message)}`);
    throw err;
  } finally {
    await connection.client.close();
  }
}
