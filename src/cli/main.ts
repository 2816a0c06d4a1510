#!/usr/bin/env node
// temporal-governance: key tooling, identity, revocations, policy checks, workers, lineage, the dev stack and the demo.
import { KeyError } from '../crypto/keys';
import { loadPolicyFile } from '../policy/load';
import { PolicyError } from '../policy/schema';
import { ProvisioningError } from '../stack/tools';
import { DEFAULT_GOVERNANCE_TASK_QUEUE } from '../common/constants';
import { table } from './table';
import { parse, required, UsageError } from './args';

export { UsageError };

export const USAGE = `Usage: temporal-governance <command> [options]

Commands:
  demo [--keep-running]          Run the governed payments demo on the embedded dev stack.
  stack                          Start the dev stack (Temporal dev server + Web UI, MongoDB) until Ctrl-C.
  signing-keys generate --key FILE --bundle FILE [--kid ID]
                                 Create an Ed25519 signing key (mode 0600, never printed) and add its
                                 public half to the trust bundle (created if missing).
  signing-keys retire --bundle FILE --kid KID [--at ISO]
                                 Stop accepting what the key signs from then on (default now); what it
                                 signed before stays valid unless you also revoke it.
  principals create ID --roles a,b[,c] [--description TEXT] [--database DB]
                                 Create a principal holding these roles.
  principals list [--database DB] [--json]
                                 Principals, their roles and whether they are revoked.
  api-keys create --principal P [--roles a,b] [--expires-in 30d | --expires-at ISO] [--database DB]
                                 Create an API key (all of P's roles, or a subset); prints it once.
  api-keys list [--principal P] [--database DB] [--json]
                                 API keys (ids, roles, expiry, revocation; nothing secret is stored).
  api-keys expire KEY_ID [--at ISO] [--database DB]
                                 Set or bring forward a key's expiry (default now).
  revoke principal ID | api-key ID | authorization ID | signing-key KID [--reason TEXT] [--database DB]
                                 Revoke it; revoking an authorization revokes everything lineage
                                 records below it. Enforcement points deny within the max staleness.
  revocations list [--database DB] [--json]
                                 Every revocation, oldest first.
  policy check FILE              Validate a policy file and print its version.
  worker governance --policy FILE --key FILE --bundle FILE [--task-queue Q] [--ttl-ms N] [--database DB]
                                 Run a governance worker (authorization activity).
  worker demo-app --bundle FILE [--task-queue Q] [--governance-task-queue Q] [--database DB]
                                 Run the payments demo's app worker with governance wired in.
  denials list [--since 1h] [--limit N] [--json]
                                 Denied workflows, from Temporal visibility (GovernanceDecision = "denied").
  denials show WORKFLOW_ID [--json]
                                 Why a workflow was denied: its failure sentence and structured details.
  lineage show ID | ancestry ID | descendants ID [--database DB] [--json]
                                 One lineage record, its ancestors (root first) or everything below it.
  lineage denials [--since 1h] [--principal P] [--limit N] [--database DB] [--json]
                                 Denied authorizations recorded in lineage, newest first.
  lineage verify --bundle FILE [--root R] [--database DB] [--json]
                                 Check offline every signature, hash link, parent/ancestor link and
                                 sequence number (all roots, or one); exit 1 on any violation.
  lineage export --root R --format json|mermaid|dot [--database DB]
                                 One root's lineage as JSON records, a Mermaid flowchart or a DOT graph.
  help                           Show this message.

Environment: TEMPORAL_ADDRESS (existing Temporal server), TEMPORAL_NAMESPACE (default "default"),
MONGODB_URI (existing MongoDB; the lineage and identity commands read and write it).`;

async function withClient<T>(fn: (client: import('@temporalio/client').Client) => Promise<T>): Promise<T> {
  const { Client, Connection } = await import('@temporalio/client');
  const address = process.env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  let connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: 5_000 });
  } catch (err) {
    throw new OperatorConnectionError(`cannot reach Temporal at ${address} (set TEMPORAL_ADDRESS): ${(err as Error).message}`);
  }
  try {
    return await fn(new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE || 'default' }));
  } finally {
    await connection.close();
  }
}

class OperatorConnectionError extends Error {
  override readonly name = 'OperatorConnectionError';
}


function shortVersion(version: string | null): string {
  return version?.startsWith('sha256:') ? `${version.slice(0, 19)}...` : version ?? '';
}

export async function main(argv: string[], out = (line: string) => process.stdout.write(`${line}\n`)): Promise<number> {
  const [command, sub, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return command === undefined ? 2 : 0;

    case 'demo': {
      const { values } = parse([sub, ...rest].filter((a): a is string => a !== undefined), { 'keep-running': { type: 'boolean' } });
      const { runDemo } = await import('../../examples/payments/demo');
      await runDemo({ keepRunning: values['keep-running'] ?? false, out });
      return 0;
    }

    case 'stack': {
      parse([sub, ...rest].filter((a): a is string => a !== undefined), {});
      // Temporal and MongoDB modules load only for commands that need them: the CLI starts fast.
      const { startDevStack, stopOnSignals } = await import('../stack/stack');
      const stack = await startDevStack({ name: 'stack', persistTemporal: true, log: out });
      stopOnSignals(stack);
      for (const line of stack.description) out(line);
      out(`export TEMPORAL_ADDRESS=${stack.temporalAddress}`);
      if (stack.mongoUri) out(`export MONGODB_URI=${stack.mongoUri}`);
      out('Press Ctrl-C to stop.');
      await new Promise(() => undefined);
      return 0;
    }

    case 'signing-keys': {
      const { signingKeysCommand } = await import('./identity');
      return signingKeysCommand(sub, rest, out);
    }

    case 'principals': {
      const { principalsCommand } = await import('./identity');
      return principalsCommand(sub, rest, out);
    }

    case 'api-keys': {
      const { apiKeysCommand } = await import('./identity');
      return apiKeysCommand(sub, rest, out);
    }

    case 'revoke': {
      const { revokeCommand } = await import('./identity');
      return revokeCommand(sub, rest, out);
    }

    case 'revocations': {
      const { revocationsCommand } = await import('./identity');
      return revocationsCommand(sub, rest, out);
    }

    case 'policy': {
      if (sub !== 'check') throw new UsageError(`unknown policy command ${sub ?? '(none)'}; expected "policy check FILE"`);
      const { positionals } = parse(rest, {}, 1);
      const policy = loadPolicyFile(positionals[0]!);
      out(`policy ${policy.id} is valid: ${policy.rules.length} rule(s), ${policy.exempt.activities.length} exempt activity pattern(s)`);
      out(`version ${policy.version}`);
      return 0;
    }

    case 'worker': {
      const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
      const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
      const { DefaultLogger, NativeConnection, Runtime, Worker } = await import('@temporalio/worker');
      const { createGovernanceWorker } = await import('../worker/governance-worker');
      const { GovernancePlugin } = await import('../plugin');
      Runtime.install({ logger: new DefaultLogger('WARN') });
      if (sub === 'governance') {
        const { values } = parse(rest, {
          policy: { type: 'string' },
          key: { type: 'string' },
          bundle: { type: 'string' },
          'task-queue': { type: 'string' },
          'ttl-ms': { type: 'string' },
          database: { type: 'string' },
        });
        required(values, 'policy', 'key', 'bundle');
        const mongoUri = process.env.MONGODB_URI;
        if (!mongoUri) throw new UsageError('MONGODB_URI must point at the MongoDB that stores identity and lineage');
        const ttl = values['ttl-ms'] === undefined ? undefined : Number(values['ttl-ms']);
        if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) throw new UsageError('--ttl-ms must be a positive integer');
        const { runUntilSignal } = await import('../worker/lifecycle');
        const connection = await NativeConnection.connect({ address });
        try {
          // Start-up checks (key in the bundle, MongoDB, search attributes) throw before polling.
          const worker = await createGovernanceWorker({
            connection,
            namespace,
            taskQueue: values['task-queue'] ?? DEFAULT_GOVERNANCE_TASK_QUEUE,
            policy: values.policy!,
            signingKeyPath: values.key!,
            trustBundlePath: values.bundle!,
            artifactTtlMs: ttl,
            mongoUri,
            database: values.database,
          });
          // Resolves once drained; the worker's MongoDB clients and timers are released by then.
          await runUntilSignal(worker, out);
        } finally {
          await connection.close();
        }
        return 0;
      }
      if (sub === 'demo-app') {
        const { values } = parse(rest, { bundle: { type: 'string' }, 'task-queue': { type: 'string' }, 'governance-task-queue': { type: 'string' }, database: { type: 'string' } });
        required(values, 'bundle');
        const mongoUri = process.env.MONGODB_URI;
        if (!mongoUri) throw new UsageError('MONGODB_URI must point at the MongoDB that stores revocations');
        const activities = await import('../../examples/payments/activities');
        const { runUntilSignal } = await import('../worker/lifecycle');
        const plugin = new GovernancePlugin({ trustBundle: values.bundle!, identity: { mongoUri, database: values.database }, workflow: { taskQueue: values['governance-task-queue'] ?? DEFAULT_GOVERNANCE_TASK_QUEUE } });
        const connection = await NativeConnection.connect({ address });
        try {
          // The plugin's start-up checks (MongoDB, search attributes) reject here, before polling.
          const worker = await Worker.create({
            connection,
            namespace,
            taskQueue: values['task-queue'] ?? 'payments',
            workflowsPath: require.resolve('../../examples/payments/workflows'),
            activities,
            shutdownGraceTime: '10s',
            plugins: [plugin],
          });
          await runUntilSignal(worker, out);
        } finally {
          await plugin.close();
          await connection.close();
        }
        return 0;
      }
      throw new UsageError(`unknown worker kind ${sub ?? '(none)'}; expected "governance" or "demo-app"`);
    }

    case 'denials': {
      const ops = await import('../operators/denials');
      if (sub === 'list') {
        const { values } = parse(rest, { since: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } });
        let since: Date | undefined;
        try {
          since = values.since === undefined ? undefined : new Date(Date.now() - ops.parseDuration(values.since));
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        const limit = values.limit === undefined ? 100 : Number(values.limit);
        if (!Number.isInteger(limit) || limit <= 0) throw new UsageError('--limit must be a positive integer');
        const rows = await withClient((client) => ops.listDenials(client, { since, limit }));
        if (values.json) {
          out(JSON.stringify(rows, null, 2));
          return 0;
        }
        if (rows.length === 0) {
          out(`no denied workflows${values.since ? ` in the last ${values.since}` : ''}`);
          return 0;
        }
        out(
          table([
            ['Workflow ID', 'Type', 'Closed', 'Deny code', 'Principal', 'Policy version'],
            ...rows.map((r) => [r.workflowId, r.workflowType, r.closedAt?.toISOString() ?? 'running', r.denyCode ?? '', r.principal ?? '', shortVersion(r.policyVersion)]),
          ]),
        );
        return 0;
      }
      if (sub === 'show') {
        const { values, positionals } = parse(rest, { json: { type: 'boolean' } }, 1);
        const report = await withClient((client) => ops.showDenial(client, positionals[0]!));
        if (values.json) {
          out(JSON.stringify(report, null, 2));
          return report.details ? 0 : 1;
        }
        if (!report.details) {
          out(`workflow ${report.workflowId} (${report.workflowType}) is ${report.status} and was not denied by governance`);
          return 1;
        }
        const d = report.details;
        out(report.message ?? '');
        out('');
        out(
          table([
            ['Field', 'Value'],
            ['workflow', `${report.workflowId} (${report.workflowType}), ${report.status}`],
            ['deny code', d.code],
            ['principal', d.principal ?? '(unknown)'],
            ['denied call', `${d.action ?? '?'} ${d.target ?? '?'}`],
            ['rules', d.ruleIds.join(', ') || '(none: default deny or enforcement)'],
            ['reason', d.reason],
            ['policy', d.policyId ? `${d.policyId} ${d.policyVersion}` : '(not a policy decision)'],
            ['decision id', d.decisionId ?? '(none)'],
          ]),
        );
        return 0;
      }
      throw new UsageError(`unknown denials command ${sub ?? '(none)'}; expected "denials list" or "denials show WORKFLOW_ID"`);
    }

    case 'lineage': {
      const { lineageCommand } = await import('./lineage');
      return lineageCommand(sub, rest, out);
    }

    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

/** Errors people can act on print as one line; anything else is a bug and keeps its stack. */
export function exitCodeFor(err: unknown, write: (line: string) => void): number {
  if (err instanceof UsageError) {
    write(`temporal-governance: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  // These errors are matched by name: their modules load only with the commands that throw them.
  if (
    err instanceof PolicyError ||
    err instanceof KeyError ||
    err instanceof ProvisioningError ||
    err instanceof OperatorConnectionError ||
    (err instanceof Error && ['OperatorError', 'IdentityStoreError', 'GovernanceStartupError', 'GovernanceWorkerConfigError', 'GovernancePluginError'].includes(err.name))
  ) {
    write(`temporal-governance: ${err.message}`);
    return 1;
  }
  write(`temporal-governance: ${(err as Error)?.stack ?? String(err)}`);
  return 1;
}

export function cli(): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => process.exit(exitCodeFor(err, (line) => process.stderr.write(`${line}\n`))),
  );
}

if (require.main === module) cli();

