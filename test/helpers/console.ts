// A console on a free port against the test stack (the same MongoDB and Temporal as the other tests).
import { Client, Connection } from '@temporalio/client';
import { loadTrustBundle, readTrustBundleDocument } from '../../src/crypto/keys';
import { connectLineage } from '../../src/lineage/store';
import { parseConsoleOptions, type ConsoleOptionsInput } from '../../src/console/options';
import { startConsole, type RunningConsole } from '../../src/console/server';
import { address, mongoUri } from './harness';

export interface TestConsole extends RunningConsole {
  /** Closes the console, its Temporal connection and its MongoDB client. */
  stop(): Promise<void>;
}

export async function startTestConsole(options: Omit<ConsoleOptionsInput, 'port'> & { database: string }): Promise<TestConsole> {
  const parsed = parseConsoleOptions({ port: 0, ...options });
  const mongo = await connectLineage(mongoUri(), parsed.database);
  const connection = await Connection.connect({ address: address() });
  const running = await startConsole({
    options: parsed,
    db: mongo.db,
    temporal: new Client({ connection, namespace: parsed.namespace }),
    trust: parsed.bundlePath === undefined ? undefined : loadTrustBundle(parsed.bundlePath),
    trustDocument: parsed.bundlePath === undefined ? undefined : readTrustBundleDocument(parsed.bundlePath),
  });
  return {
    ...running,
    async stop() {
      await running.close();
      await connection.close();
      await mongo.client.close();
    },
  };
}
