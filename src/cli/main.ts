#!/usr/bin/env node
// temporal-governance: key tooling, identity, revocations, policy checks, workers, lineage, the dev stack and the demo.
import { findPackageVersion } from '../package-info';
import { KeyError } from '../crypto/keys';
import { loadPolicyFile } from '../policy/load';
import { PolicyError } from '../policy/schema';
import { ProvisioningError } from '../stack/tools';
import { DEFAULT_GOVERNANCE_TASK_QUEUE } from '../common/constants';
import { table } from './table';
import { OUTPUT_OPTION, outputFormat, parse, printJson, required, UsageError } from './args';
import { commandHelp, findCommand, groupHelp, overview, subcommandsOf, usageLine, type CommandSpec } from './commands';

export { UsageError };

/** The full usage (what `help` prints). */
export const USAGE = overview();

type Out = (line: string) => void;
const stderrLine: Out = (line) => process.stderr.write(`${line}\n`);

/** This package's version, from the package.json above this file (src/cli or dist/src/cli). */
export function packageVersion(): string {
  const version = findPackageVersion();
  if (version === undefined) throw new Error('cannot find the package.json of temporal-governance');
  return version;
}

function shortVersion(version: string | null): string {
  return version?.startsWith('sha256:') ? `${version.slice(0, 19)}...` : version ?? '';
}


const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

/** A worker command's --log-level (default INFO), read before the options are parsed in full. */
function logLevel(args: readonly string[]): (typeof LOG_LEVELS)[number] {
  const i = args.findIndex((a) => a === '--log-level' || a.startsWith('--log-level='));
  if (i < 0) return 'INFO';
  const value = (args[i]!.includes('=') ? args[i]!.slice('--log-level='.length) : args[i + 1] ?? '').toUpperCase();
  const level = LOG_LEVELS.find((l) => l === value);
  if (!level) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ').toLowerCase()}`);
  return level;
}

/** The command argv names: a single command, or a group's subcommand. Anything else is a usage error. */
function resolveCommand(command: string, sub: string | undefined): CommandSpec {
  const single = findCommand(command);
  if (single) return single;
  const subs = subcommandsOf(command);
  if (subs.length === 0) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const spec = sub === undefined ? undefined : findCommand(`${command} ${sub}`);
  if (!spec) {
    const expected = subs.map((c) => c.name.slice(command.length + 1)).join(', ');
    throw new UsageError(sub === undefined || sub.startsWith('-') ? `missing the command: one of ${expected}` : `unknown ${command} command ${JSON.stringify(sub)}; expected one of ${expected}`, command);
  }
  return spec;
}

/** `--help` or `-h` anywhere before a `--`. */
function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** `help`, `help COMMAND`, `help GROUP`, `help GROUP COMMAND`. */
function help(words: string[], out: Out): number {
  if (words.length === 0) {
    out(USAGE);
    return 0;
  }
  const name = words.join(' ');
  const spec = findCommand(name);
  if (spec) out(commandHelp(spec));
  else if (words.length === 1 && subcommandsOf(name).length > 0) out(groupHelp(name));
  else throw new UsageError(`no command ${JSON.stringify(name)}`);
  return 0;
}

/**
 * Runs one command line. Returns the exit code: 0 done, 1 failed (a one-line reason on stderr),
 * 2 usage error (thrown as UsageError; exitCodeFor prints it).
 */
export async function main(argv: string[], out: Out = (line) => process.stdout.write(`${line}\n`), err: Out = stderrLine): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (command === undefined) {
    out(USAGE);
    return 2;
  }
  if (command === 'help' && wantsHelp(argv.slice(1))) {
    out(commandHelp(findCommand('help')!));
    return 0;
  }
  if (command === 'help' || command === '--help' || command === '-h') return help(argv.slice(1), out);
  if (command === '--version' || command === '-v') {
    parse(argv.slice(1), {});
    out(`temporal-governance version ${packageVersion()}`);
    return 0;
  }
  let spec: CommandSpec;
  try {
    spec = resolveCommand(command, sub);
  } catch (e) {
    // `lineage --help`: the group's commands.
    if (e instanceof UsageError && e.command !== undefined && wantsHelp(argv)) {
      out(groupHelp(e.command));
      return 0;
    }
    throw e;
  }
  if (wantsHelp(argv)) {
    out(commandHelp(spec));
    return 0;
  }
  try {
    return await run(spec, command, sub, rest, out, err);
  } catch (e) {
    if (e instanceof UsageError && e.command === undefined) throw new UsageError(e.message, spec.name);
    throw e;
  }
}

async function run(spec: CommandSpec, command: string, sub: string | undefined, rest: string[], out: Out, err: Out): Promise<number> {
  const all = [sub, ...rest].filter((a): a is string => a !== undefined);
  switch (command) {
    case 'version':
      parse(all, {});
      out(`temporal-governance version ${packageVersion()}`);
      return 0;

    case 'demo': {
      const { values } = parse(all, { 'keep-running': { type: 'boolean' } });
      const { runDemo } = await import('../../examples/payments/demo');
      await runDemo({ keepRunning: values['keep-running'] ?? false, out });
      return 0;
    }

    case 'stack': {
      parse(all, {});
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
      return apiKeysCommand(sub, rest, out, err);
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
      const { positionals } = parse(rest, {}, 1);
      const policy = loadPolicyFile(positionals[0]!);
      out(`policy ${policy.id} is valid: ${policy.rules.length} rule(s), ${policy.exempt.activities.length} exempt activity pattern(s)`);
      out(`version ${policy.version}`);
      return 0;
    }

    case 'worker': {
      const { CLIENT_OPTIONS, connectNative, DATA_CONVERTER_ENV, loadDataConverterModule } = await import('./temporal');
      const { DefaultLogger, NativeConnection, Runtime, Worker } = await import('@temporalio/worker');
      const { createGovernanceWorker, governanceDirectUrl, governanceHealthUrl } = await import('../worker/governance-worker');
      const { GovernancePlugin } = await import('../plugin');
      if (sub === 'governance' || sub === 'demo-app') {
        // Before the worker exists: INFO carries one line per governance decision (docs/observability.md).
        Runtime.install({ logger: new DefaultLogger(logLevel(rest)) });
      }
      if (sub === 'governance') {
        const { values } = parse(rest, {
          policy: { type: 'string' },
          key: { type: 'string' },
          bundle: { type: 'string' },
          'task-queue': { type: 'string' },
          'ttl-ms': { type: 'string' },
          database: { type: 'string' },
          'log-level': { type: 'string' },
          'health-port': { type: 'string' },
          'health-host': { type: 'string' },
          'direct-port': { type: 'string' },
          'direct-host': { type: 'string' },
          'direct-tls-cert': { type: 'string' },
          'direct-tls-key': { type: 'string' },
          ...CLIENT_OPTIONS,
        });
        required(values, 'policy', 'key', 'bundle');
        const directPort = values['direct-port'] === undefined ? undefined : Number(values['direct-port']);
        if (directPort !== undefined && !(Number.isInteger(directPort) && directPort >= 1 && directPort <= 65_535)) throw new UsageError('--direct-port must be an integer from 1 to 65535');
        for (const flag of ['direct-host', 'direct-tls-cert', 'direct-tls-key'] as const) {
          if (values[flag] !== undefined && directPort === undefined) throw new UsageError(`--${flag} needs --direct-port`);
        }
        if ((values['direct-tls-cert'] === undefined) !== (values['direct-tls-key'] === undefined)) throw new UsageError('--direct-tls-cert and --direct-tls-key go together');
        const healthPort = values['health-port'] === undefined ? undefined : Number(values['health-port']);
        if (healthPort !== undefined && !(Number.isInteger(healthPort) && healthPort >= 1 && healthPort <= 65_535)) throw new UsageError('--health-port must be an integer from 1 to 65535');
        if (values['health-host'] !== undefined && healthPort === undefined) throw new UsageError('--health-host needs --health-port');
        const mongoUri = process.env.MONGODB_URI;
        if (!mongoUri) throw new UsageError('MONGODB_URI must point at the MongoDB that stores identity and lineage');
        const ttl = values['ttl-ms'] === undefined ? undefined : Number(values['ttl-ms']);
        if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) throw new UsageError('--ttl-ms must be a positive integer');
        const { runUntilSignal } = await import('../worker/lifecycle');
        const dataConverter = loadDataConverterModule(values['data-converter'] ?? (process.env[DATA_CONVERTER_ENV] || undefined));
        const { connection, namespace } = await connectNative(NativeConnection, values);
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
            dataConverter,
            health: healthPort === undefined ? undefined : { port: healthPort, host: values['health-host'] },
            directAuthorization:
              directPort === undefined
                ? undefined
                : {
                    port: directPort,
                    host: values['direct-host'],
                    tls: values['direct-tls-cert'] === undefined ? undefined : { certFile: values['direct-tls-cert'], keyFile: values['direct-tls-key']! },
                  },
          });
          const healthUrl = governanceHealthUrl(worker);
          if (healthUrl !== undefined) out(`health port ${healthUrl} (/healthz /readyz /metrics)`);
          const directUrl = governanceDirectUrl(worker);
          if (directUrl !== undefined) out(`direct authorization ${directUrl}/v1/authorize`);
          // Resolves once drained; the worker's MongoDB clients and timers (and the health port) are released by then.
          await runUntilSignal(worker, out);
        } finally {
          await connection.close();
        }
        return 0;
      }
      if (sub === 'demo-app') {
        const { values } = parse(rest, { bundle: { type: 'string' }, 'task-queue': { type: 'string' }, 'governance-task-queue': { type: 'string' }, database: { type: 'string' }, 'log-level': { type: 'string' }, ...CLIENT_OPTIONS });
        required(values, 'bundle');
        const mongoUri = process.env.MONGODB_URI;
        if (!mongoUri) throw new UsageError('MONGODB_URI must point at the MongoDB that stores revocations');
        const activities = await import('../../examples/payments/activities');
        const { runUntilSignal } = await import('../worker/lifecycle');
        const dataConverter = loadDataConverterModule(values['data-converter'] ?? (process.env[DATA_CONVERTER_ENV] || undefined));
        const plugin = new GovernancePlugin({ trustBundle: values.bundle!, identity: { mongoUri, database: values.database }, workflow: { taskQueue: values['governance-task-queue'] ?? DEFAULT_GOVERNANCE_TASK_QUEUE } });
        const { connection, namespace } = await connectNative(NativeConnection, values);
        try {
          // The plugin's start-up checks (MongoDB, search attributes) reject here, before polling.
          const worker = await Worker.create({
            connection,
            namespace,
            taskQueue: values['task-queue'] ?? 'payments',
            workflowsPath: require.resolve('../../examples/payments/workflows'),
            activities,
            dataConverter,
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
      const { CLIENT_OPTIONS, withClient } = await import('./temporal');
      if (sub === 'list') {
        const { values } = parse(rest, { since: { type: 'string' }, limit: { type: 'string' }, ...OUTPUT_OPTION, ...CLIENT_OPTIONS });
        const format = outputFormat(values);
        let since: Date | undefined;
        try {
          since = values.since === undefined ? undefined : new Date(Date.now() - ops.parseDuration(values.since));
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        const limit = values.limit === undefined ? 100 : Number(values.limit);
        if (!Number.isInteger(limit) || limit <= 0) throw new UsageError('--limit must be a positive integer');
        const rows = await withClient(values, (client) => ops.listDenials(client, { since, limit }));
        if (format !== 'table') {
          printJson(out, format, rows);
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
        const { values, positionals } = parse(rest, { ...OUTPUT_OPTION, ...CLIENT_OPTIONS }, 1);
        const format = outputFormat(values);
        const report = await withClient(values, (client) => ops.showDenial(client, positionals[0]!));
        if (format !== 'table') {
          printJson(out, format, report);
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
      throw new UsageError(`unknown denials command ${sub ?? '(none)'}`);
    }

    case 'console': {
      const { CONNECTION_OPTIONS } = await import('./temporal');
      const { values } = parse(all, {
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        bundle: { type: 'string' },
        'web-ui': { type: 'string' },
        'governance-task-queue': { type: 'string' },
        database: { type: 'string' },
        ...CONNECTION_OPTIONS,
      });
      const { runConsoleCommand } = await import('./console');
      await runConsoleCommand(values, out);
      return 0;
    }

    case 'workflow': {
      const { workflowCommand } = await import('./workflow');
      return workflowCommand(sub, rest, out, err);
    }

    case 'lineage': {
      const { lineageCommand } = await import('./lineage');
      return lineageCommand(sub, rest, out, { err });
    }

    default:
      // resolveCommand only lets through commands of the table; one missing here is a bug.
      throw new Error(`command ${spec.name} has no handler`);
  }
}

/**
 * Errors people can act on print as one line (a usage error: the message, the command's usage line
 * and where to read more, exit 2); anything else is a bug and keeps its stack (exit 1).
 */
export function exitCodeFor(err: unknown, write: (line: string) => void): number {
  if (err instanceof UsageError) {
    const spec = err.command === undefined ? undefined : findCommand(err.command);
    if (spec) write(`temporal-governance ${spec.name}: ${err.message}\nUsage: ${usageLine(spec)}\nRun "temporal-governance help ${spec.name}" for its options.`);
    else if (err.command !== undefined) write(`temporal-governance ${err.command}: ${err.message}\n${groupHelp(err.command)}`);
    else write(`temporal-governance: ${err.message}\nRun "temporal-governance help" for the list of commands.`);
    return 2;
  }
  // These errors are matched by name: their modules load only with the commands that throw them.
  if (
    err instanceof PolicyError ||
    err instanceof KeyError ||
    err instanceof ProvisioningError ||
    (err instanceof Error && ['OperatorError', 'OperatorConnectionError', 'IdentityStoreError', 'GovernanceStartupError', 'GovernanceWorkerConfigError', 'GovernancePluginError'].includes(err.name))
  ) {
    write(`temporal-governance: ${err.message}`);
    return 1;
  }
  write(`temporal-governance: ${(err as Error)?.stack ?? String(err)}`);
  return 1;
}

/**
 * When the reader of stdout goes away (`| head -1`), stop quietly with exit 0, as most Node CLIs
 * do: the reader has all it wanted. Node ignores SIGPIPE, so this arrives as an EPIPE error event.
 */
export function exitQuietlyOnBrokenPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    // Any other write failure: nothing sensible can be printed to a broken stream.
    process.exit(1);
  });
}

/**
 * Long-running commands (workers, the stack, the demo) outlive their log reader now and then (a log
 * shipper restarts): a broken stdout or stderr must not stop a worker mid-drain, so their lost lines
 * are dropped instead.
 */
export function ignoreBrokenPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', () => undefined);
}

const LONG_RUNNING = new Set(['worker', 'stack', 'demo']);

export function cli(): void {
  const argv = process.argv.slice(2);
  const onBrokenPipe = LONG_RUNNING.has(argv[0] ?? '') ? ignoreBrokenPipe : exitQuietlyOnBrokenPipe;
  onBrokenPipe(process.stdout);
  onBrokenPipe(process.stderr);
  main(argv).then(
    (code) => process.exit(code),
    (e: unknown) => process.exit(exitCodeFor(e, stderrLine)),
  );
}

if (require.main === module) cli();
