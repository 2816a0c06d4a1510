// `npm run bench`: governance overhead in one run against one dev server.
//   1. per-activity latency, ungoverned vs governed (real Temporal dev server, real workers)
//   2. Ed25519 sign/verify and artifact verification, node:crypto vs @noble/ed25519
//   3. policy parse and evaluation on a generated 100-rule policy
//   4. identity (proof, claims) and server-fact reads (run grants) on the real servers
//   5. observability per decision (spans, metrics, log line), without and with an OpenTelemetry SDK
//   6. per-message latency, signals and updates, ungoverned vs governed (real dev server, real workers)
//   7. throughput: W workflows x A activities in flight, ungoverned vs governed in alternating rounds,
//      activities/s and CPU per call of each process (bench/throughput.ts)
// Options: --activities N (measured calls per variant, default 200), --messages M (measured signals,
// and as many updates, per variant, default 100), --rounds R (alternating rounds, default 4),
// --warmup W (warm-up calls/messages per variant, default 20), --time-box-ms T (per micro-benchmark
// loop, default 1000), --skip-latency (CPU sections only, no server), --messages-only (the
// per-message section alone), --throughput-only (the throughput section alone),
// --throughput-workflows W (default 50), --throughput-activities A (default 10),
// --throughput-rounds R (alternating rounds, default 3).
//
// The scale test (issue #10; bench/scale.ts) runs instead of all of that with --scale:
//   npm run bench -- --scale [--soak-workflows 1000] [--soak-calls 3] [--soak-concurrency 15]
//     [--deny-every 10] [--chain-depth 1000] [--fault none|mongo-restart] [--fault-seconds 20]
//     [--quiet-timeout-s 600] [--report-json PATH]
// It exits 1 when an issued decision is missing from MongoDB once quiet (or quiet never came) or a
// workflow did not end as the policy says; --report-json writes the whole report as JSON.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startDevStack, stopOnSignals } from '../src/stack/stack';
import { cryptoTable, runCrypto } from './crypto';
import { identityCpuTable, identityStoreTable, runIdentityCpu, runIdentityStore } from './identity';
import { dispatchQuantumNote, latencyTable, lineageTable, makeBenchKeys, runLatency } from './latency';
import { messagesTable, runMessages } from './messages';
import { observabilityTable, runObservability } from './observability';
import { policyTable, runPolicy } from './policy';
import { runServerFacts, serverFactsTable } from './server-facts';
import { runScale, scaleTables, type Fault } from './scale';
import { runThroughput, throughputTable } from './throughput';
import { machineInfo } from './util';
import { writeFileSync } from 'node:fs';

interface Options {
  activities: number;
  messages: number;
  messagesOnly: boolean;
  rounds: number;
  warmup: number;
  timeBoxMs: number;
  skipLatency: boolean;
  throughputOnly: boolean;
  throughput: { workflows: number; activities: number; rounds: number };
  /** Set by --scale: run the scale test and nothing else. */
  scale: ScaleSettings | null;
}

interface ScaleSettings {
  soakWorkflows: number;
  soakCalls: number;
  soakConcurrency: number;
  denyEvery: number;
  chainDepth: number;
  fault: Fault;
  faultSeconds: number;
  quietTimeoutSeconds: number;
  reportJson: string | null;
}

class UsageError extends Error {}

const USAGE = [
  'usage: npm run bench -- [--activities N] [--messages M] [--rounds R] [--warmup W] [--time-box-ms T]',
  '         [--throughput-workflows W] [--throughput-activities A] [--throughput-rounds R] [--skip-latency | --messages-only | --throughput-only]',
  '       npm run bench -- --scale [--soak-workflows N] [--soak-calls K] [--soak-concurrency C] [--deny-every D] [--chain-depth M]',
  '         [--fault none|mongo-restart] [--fault-seconds S] [--quiet-timeout-s T] [--report-json PATH]',
].join('\n');

const SCALE_DEFAULTS: ScaleSettings = {
  soakWorkflows: 1_000,
  soakCalls: 3,
  soakConcurrency: 15,
  denyEvery: 10,
  chainDepth: 1_000,
  fault: 'none',
  faultSeconds: 20,
  quietTimeoutSeconds: 600,
  reportJson: null,
};

function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    activities: 200,
    messages: 100,
    messagesOnly: false,
    rounds: 4,
    warmup: 20,
    timeBoxMs: 1_000,
    skipLatency: false,
    throughputOnly: false,
    throughput: { workflows: 50, activities: 10, rounds: 3 },
    scale: null,
  };
  const scale: ScaleSettings = { ...SCALE_DEFAULTS };
  const scaleFlags: string[] = [];
  const integer = (flag: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs an integer >= ${min}, got ${value ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--activities':
        options.activities = integer(flag, value(), 1);
        break;
      case '--messages':
        options.messages = integer(flag, value(), 1);
        break;
      case '--messages-only':
        options.messagesOnly = true;
        break;
      case '--rounds':
        options.rounds = integer(flag, value(), 1);
        break;
      case '--warmup':
        options.warmup = integer(flag, value(), 1);
        break;
      case '--time-box-ms':
        options.timeBoxMs = integer(flag, value(), 10);
        break;
      case '--skip-latency':
        options.skipLatency = true;
        break;
      case '--throughput-only':
        options.throughputOnly = true;
        break;
      case '--throughput-workflows':
        options.throughput.workflows = integer(flag, value(), 1);
        break;
      case '--throughput-activities':
        options.throughput.activities = integer(flag, value(), 1);
        break;
      case '--throughput-rounds':
        options.throughput.rounds = integer(flag, value(), 1);
        break;
      case '--scale':
        options.scale = scale;
        break;
      case '--soak-workflows':
        scale.soakWorkflows = integer(flag, value(), 0);
        scaleFlags.push(flag);
        break;
      case '--soak-calls':
        scale.soakCalls = integer(flag, value(), 1);
        scaleFlags.push(flag);
        break;
      case '--soak-concurrency':
        scale.soakConcurrency = integer(flag, value(), 1);
        scaleFlags.push(flag);
        break;
      case '--deny-every':
        scale.denyEvery = integer(flag, value(), 0);
        scaleFlags.push(flag);
        break;
      case '--chain-depth':
        scale.chainDepth = integer(flag, value(), 0);
        scaleFlags.push(flag);
        break;
      case '--fault': {
        const fault = value();
        if (fault !== 'none' && fault !== 'mongo-restart') throw new UsageError(`--fault is none or mongo-restart, got ${fault ?? 'nothing'}`);
        scale.fault = fault;
        scaleFlags.push(flag);
        break;
      }
      case '--fault-seconds':
        scale.faultSeconds = integer(flag, value(), 1);
        scaleFlags.push(flag);
        break;
      case '--quiet-timeout-s':
        scale.quietTimeoutSeconds = integer(flag, value(), 1);
        scaleFlags.push(flag);
        break;
      case '--report-json': {
        const path = value();
        if (!path) throw new UsageError('--report-json needs a file path');
        scale.reportJson = path;
        scaleFlags.push(flag);
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  if ([options.skipLatency, options.messagesOnly, options.throughputOnly].filter(Boolean).length > 1) {
    throw new UsageError('--skip-latency, --messages-only and --throughput-only exclude each other');
  }
  if (!options.scale && scaleFlags.length > 0) throw new UsageError(`${scaleFlags[0]} is an option of --scale`);
  if (options.scale && (options.skipLatency || options.messagesOnly || options.throughputOnly)) throw new UsageError('--scale runs alone: drop --skip-latency, --messages-only and --throughput-only');
  if (options.scale && scale.soakWorkflows === 0 && scale.chainDepth === 0) throw new UsageError('--scale needs --soak-workflows or --chain-depth above 0');
  if (options.rounds > Math.min(options.activities, options.messages)) options.rounds = Math.min(options.activities, options.messages);
  return options;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const print = (text: string) => process.stdout.write(`${text}\n`);

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  // Core's own log lines go through the same ERROR-level logger (not one WARN line per task on stderr under overload).
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });

  print('temporal-governance benchmark');
  print(machineInfo());

  const keys = makeBenchKeys();
  try {
    if (options.scale) {
      const failed = await scaleMain(options.scale, keys);
      keys.remove();
      print(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);
      process.exit(failed ? 1 : 0);
    }
    if (!options.skipLatency) {
      const stack = await startDevStack({ name: 'bench', log: (line) => log(`stack: ${line}`) });
      stopOnSignals(stack);
      try {
        print(stack.description.join('\n'));
        const server = { address: stack.temporalAddress, namespace: stack.namespace, mongoUri: stack.mongoUri!, keys, rounds: options.rounds, warmup: options.warmup, log };
        const throughput = async () => {
          const t = options.throughput;
          log(`measuring throughput: ${t.workflows} workflows x ${t.activities} activities in flight, ${t.rounds} alternating rounds`);
          print(throughputTable(await runThroughput({ ...server, servers: stack.servers, workflows: t.workflows, activitiesPerWorkflow: t.activities, rounds: t.rounds })));
        };
        if (options.throughputOnly) {
          await throughput();
          return;
        }
        if (!options.messagesOnly) {
          log(`measuring latency: ${options.activities} calls per variant in ${options.rounds} rounds`);
          const latency = await runLatency({ ...server, activities: options.activities });
          print(latencyTable(latency));
          print(lineageTable(latency));
          const note = dispatchQuantumNote(latency, stack.uiUrl !== null);
          if (note) print(note);
          log('measuring identity reads and proof claims on the MongoDB-wire server');
          print(identityStoreTable(await runIdentityStore(stack.mongoUri!)));
          log('measuring server-fact reads for run grants');
          print(serverFactsTable(await runServerFacts(stack.temporalAddress, stack.namespace)));
          await throughput();
        }
        log(`measuring message latency: ${options.messages} signals and as many updates per variant in ${options.rounds} rounds`);
        print(messagesTable(await runMessages({ ...server, messages: options.messages })));
      } finally {
        await stack.stop();
      }
    }

    if (!options.messagesOnly && !options.throughputOnly) {
      // CPU micro-benchmarks run after the server is stopped, so it cannot steal a core from them.
      log(`measuring Ed25519 (${options.timeBoxMs} ms per loop)`);
      print(cryptoTable(await runCrypto(keys, options.timeBoxMs)));

      log(`measuring identity verification (${options.timeBoxMs} ms per loop)`);
      print(identityCpuTable(await runIdentityCpu(keys, options.timeBoxMs)));

      log(`measuring policy evaluation (${options.timeBoxMs} ms per loop)`);
      print(policyTable(runPolicy(options.timeBoxMs)));

      // Last: it registers (then removes) global OpenTelemetry providers.
      log(`measuring observability (${options.timeBoxMs} ms per loop)`);
      print(observabilityTable(await runObservability(options.timeBoxMs)));
    }
  } finally {
    keys.remove();
  }
  print(`\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** The scale test on a stack of its own; true when it failed. */
async function scaleMain(settings: ScaleSettings, keys: ReturnType<typeof makeBenchKeys>): Promise<boolean> {
  const stack = await startDevStack({ name: 'bench-scale', log: (line) => log(`stack: ${line}`) });
  stopOnSignals(stack);
  try {
    print(stack.description.join('\n'));
    log(`scale: soak ${settings.soakWorkflows} x ${settings.soakCalls} calls (${settings.soakConcurrency} in flight), chain depth ${settings.chainDepth}, fault ${settings.fault}`);
    const { reportJson, ...scale } = settings;
    const report = await runScale({ address: stack.temporalAddress, namespace: stack.namespace, mongoUri: stack.mongoUri!, keys, servers: stack.servers, log, ...scale });
    print(scaleTables(report));
    if (reportJson) writeFileSync(reportJson, `${JSON.stringify(report, null, 2)}\n`);
    return report.problems.length > 0;
  } finally {
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
