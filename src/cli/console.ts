// `temporal-governance console`: connects the same MongoDB and Temporal the other commands use,
// serves the console until SIGINT/SIGTERM, then closes everything.
import { OperatorError } from '../operators/denials';
import { UsageError } from './args';
import { redactUri } from './mongo';
import { OperatorConnectionError, resolveConnection, scrub, type ConnectionFlags } from './temporal';

export const CONSOLE_TOKEN_ENV = 'TEMPORAL_GOVERNANCE_CONSOLE_TOKEN';

export type ConsoleFlags = ConnectionFlags & {
  port?: string;
  host?: string;
  token?: string;
  bundle?: string;
  'web-ui'?: string;
  'governance-task-queue'?: string;
  database?: string;
};

/** Option names as the operator typed them, for messages. */
const FLAG_OF: Record<string, string> = { webUiUrl: '--web-ui', governanceTaskQueue: '--governance-task-queue', bundlePath: '--bundle', token: '--token', host: '--host', port: '--port', database: '--database' };

const firstLine = (text: string) => text.split('\n')[0] ?? text;

/** The Web UI of a Temporal on this machine is the dev server's (port 8233); elsewhere only --web-ui knows. */
function defaultWebUi(address: string): string | undefined {
  const host = address.replace(/:\d+$/, '');
  return host === '127.0.0.1' || host === 'localhost' ? 'http://127.0.0.1:8233' : undefined;
}

export async function runConsoleCommand(flags: ConsoleFlags, out: (line: string) => void): Promise<void> {
  const { parseConsoleOptions, ConsoleOptionsError } = await import('../console/options');
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) throw new UsageError('--port must be an integer from 0 to 65535');
  const connection = resolveConnection(flags);
  let options;
  try {
    options = parseConsoleOptions({
      host: flags.host,
      port,
      token: flags.token ?? (process.env[CONSOLE_TOKEN_ENV] || undefined),
      database: flags.database,
      bundlePath: flags.bundle,
      namespace: connection.namespace,
      governanceTaskQueue: flags['governance-task-queue'],
      webUiUrl: flags['web-ui'] ?? defaultWebUi(connection.connectionOptions.address),
    });
  } catch (err) {
    if (err instanceof ConsoleOptionsError) throw new UsageError(Object.entries(FLAG_OF).reduce((m, [key, flag]) => m.replaceAll(`${key}:`, `${flag}:`), err.message));
    throw err;
  }
  const uri = process.env.MONGODB_URI;
  if (!uri) throw new OperatorError('MONGODB_URI is not set: point it at the MongoDB that stores lineage and identity');

  let trust;
  let trustDocument: unknown;
  if (options.bundlePath !== undefined) {
    const { loadTrustBundle, readTrustBundleDocument } = await import('../crypto/keys');
    try {
      trustDocument = readTrustBundleDocument(options.bundlePath);
      trust = loadTrustBundle(options.bundlePath);
    } catch (err) {
      throw new OperatorError((err as Error).message);
    }
  }

  const { connectLineage } = await import('../lineage/store');
  let mongo: Awaited<ReturnType<typeof connectLineage>>;
  try {
    mongo = await connectLineage(uri, options.database);
  } catch (err) {
    throw new OperatorError(`cannot reach MongoDB at ${redactUri(uri)}: ${firstLine((err as Error).message)}`);
  }
  const { Client, Connection } = await import('@temporalio/client');
  let conn;
  try {
    conn = await Connection.connect({ ...connection.connectionOptions, connectTimeout: 5_000 });
  } catch (err) {
    await mongo.client.close();
    throw new OperatorConnectionError(`cannot reach Temporal at ${connection.description}: ${scrub(firstLine((err as Error).message), connection.secrets)}`);
  }
  const { startConsole } = await import('../console/server');
  try {
    let running;
    try {
      running = await startConsole({ options, db: mongo.db, temporal: new Client({ connection: conn, namespace: options.namespace }), trust, trustDocument });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new OperatorError(`cannot listen on ${options.host}:${options.port}: ${code}`);
      throw err;
    }
    if (options.bundlePath === undefined) out('No --bundle given: records are shown unverified.');
    out(`Console: ${running.url}`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await running.close();
  } finally {
    await conn.close();
    await mongo.client.close();
  }
}
