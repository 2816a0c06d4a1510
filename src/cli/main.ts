#!/usr/bin/env node
// temporal-governance: key tooling, policy checks, workers, the dev stack and the demo.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Worker } from '@temporalio/worker';
import { generateSigningKey, KeyError } from '../crypto/keys';
import { loadPolicyFile } from '../policy/load';
import { PolicyError } from '../policy/schema';
import { ProvisioningError } from '../stack/tools';
import { DEFAULT_GOVERNANCE_TASK_QUEUE } from '../common/constants';

export const USAGE = `Usage: temporal-governance <command> [options]

Commands:
  demo [--keep-running]          Run the governed payments demo on the embedded dev stack.
  stack                          Start the dev stack (Temporal dev server + Web UI, MongoDB) until Ctrl-C.
  keys generate --key FILE --bundle FILE [--kid ID]
                                 Create an Ed25519 signing key (mode 0600, never printed) and add its
                                 public half to the trust bundle (created if missing).
  policy check FILE              Validate a policy file and print its version.
  worker governance --policy FILE --principals FILE --key FILE --bundle FILE [--task-queue Q] [--ttl-ms N]
                                 Run a governance worker (authorization activity).
  worker demo-app --bundle FILE [--task-queue Q] [--governance-task-queue Q]
                                 Run the payments demo's app worker with governance wired in.
  help                           Show this message.

Environment: TEMPORAL_ADDRESS (existing Temporal server), TEMPORAL_NAMESPACE (default "default"),
MONGODB_URI (existing MongoDB).`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, positionals = 0) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals > 0 });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(`expected ${positionals} argument(s), got ${parsed.positionals.length}`);
  }
  return parsed;
}

function required(values: Record<string, unknown>, ...names: string[]): void {
  const missing = names.filter((n) => typeof values[n] !== 'string' || values[n] === '');
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((n) => `--${n}`).join(', ')}`);
}

async function runWorkerUntilSignal(worker: Worker, out: (line: string) => void): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => worker.shutdown());
  out(`worker polling task queue ${worker.options.taskQueue} (Ctrl-C to stop)`);
  await worker.run();
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

    case 'keys': {
      if (sub !== 'generate') throw new UsageError(`unknown keys command ${sub ?? '(none)'}; expected "keys generate"`);
      const { values } = parse(rest, { key: { type: 'string' }, bundle: { type: 'string' }, kid: { type: 'string' } });
      required(values, 'key', 'bundle');
      const kid = values.kid ?? `key-${new Date().toISOString().slice(0, 10)}-${Math.random().toString(36).slice(2, 8)}`;
      const generated = generateSigningKey({ keyPath: values.key!, bundlePath: values.bundle!, kid });
      out(`signing key ${generated.kid} written to ${values.key} (mode 0600; keep it on governance workers only)`);
      out(`public key added to trust bundle ${values.bundle}; distribute the bundle to every worker`);
      return 0;
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
          principals: { type: 'string' },
          key: { type: 'string' },
          bundle: { type: 'string' },
          'task-queue': { type: 'string' },
          'ttl-ms': { type: 'string' },
        });
        required(values, 'policy', 'principals', 'key', 'bundle');
        const ttl = values['ttl-ms'] === undefined ? undefined : Number(values['ttl-ms']);
        if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) throw new UsageError('--ttl-ms must be a positive integer');
        const connection = await NativeConnection.connect({ address });
        const worker = await createGovernanceWorker({
          connection,
          namespace,
          taskQueue: values['task-queue'] ?? DEFAULT_GOVERNANCE_TASK_QUEUE,
          policy: values.policy!,
          principals: values.principals!,
          signingKeyPath: values.key!,
          trustBundlePath: values.bundle!,
          artifactTtlMs: ttl,
        });
        await runWorkerUntilSignal(worker, out);
        await connection.close();
        return 0;
      }
      if (sub === 'demo-app') {
        const { values } = parse(rest, { bundle: { type: 'string' }, 'task-queue': { type: 'string' }, 'governance-task-queue': { type: 'string' } });
        required(values, 'bundle');
        const activities = await import('../../examples/payments/activities');
        const connection = await NativeConnection.connect({ address });
        const worker = await Worker.create({
          connection,
          namespace,
          taskQueue: values['task-queue'] ?? 'payments',
          workflowsPath: require.resolve('../../examples/payments/workflows'),
          activities,
          plugins: [new GovernancePlugin({ trustBundle: values.bundle!, workflow: { taskQueue: values['governance-task-queue'] ?? DEFAULT_GOVERNANCE_TASK_QUEUE } })],
        });
        await runWorkerUntilSignal(worker, out);
        await connection.close();
        return 0;
      }
      throw new UsageError(`unknown worker kind ${sub ?? '(none)'}; expected "governance" or "demo-app"`);
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
  if (err instanceof PolicyError || err instanceof KeyError || err instanceof ProvisioningError) {
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

