// `npm run bench`: governance overhead in one run against one dev server.
//   1. per-activity latency, ungoverned vs governed (real Temporal dev server, real workers)
//   2. Ed25519 sign/verify and artifact verification, node:crypto vs @noble/ed25519
//   3. policy parse and evaluation on a generated 100-rule policy
//   4. identity (proof, claims) and server-fact reads (run grants) on the real servers
//   5. observability per decision (spans, metrics, log line), without and with an OpenTelemetry SDK
//   6. per-message latency, signals and updates, ungoverned vs governed (real dev server, real workers)
// Options: --activities N (measured calls per variant, default 200), --messages M (measured signals,
// and as many updates, per variant, default 100), --rounds R (alternating rounds, default 4),
// --warmup W (warm-up calls/messages per variant, default 20), --time-box-ms T (per micro-benchmark
// loop, default 1000), --skip-latency (CPU sections only, no server), --messages-only (the
// per-message section alone).
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startDevStack, stopOnSignals } from '../src/stack/stack';
import { cryptoTable, runCrypto } from './crypto';
import { identityCpuTable, identityStoreTable, runIdentityCpu, runIdentityStore } from './identity';
import { dispatchQuantumNote, latencyTable, lineageTable, makeBenchKeys, runLatency } from './latency';
import { messagesTable, runMessages } from './messages';
import { observabilityTable, runObservability } from './observability';
import { policyTable, runPolicy } from './policy';
import { runServerFacts, serverFactsTable } from './server-facts';
import { machineInfo } from './util';

interface Options {
  activities: number;
  messages: number;
  messagesOnly: boolean;
  rounds: number;
  warmup: number;
  timeBoxMs: number;
  skipLatency: boolean;
}

class UsageError extends Error {}

const USAGE = 'usage: npm run bench -- [--activities N] [--messages M] [--rounds R] [--warmup W] [--time-box-ms T] [--skip-latency | --messages-only]';

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { activities: 200, messages: 100, messagesOnly: false, rounds: 4, warmup: 20, timeBoxMs: 1_000, skipLatency: false };
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
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (options.skipLatency && options.messagesOnly) throw new UsageError('--skip-latency and --messages-only exclude each other');
  if (options.rounds > Math.min(options.activities, options.messages)) options.rounds = Math.min(options.activities, options.messages);
  return options;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const print = (text: string) => process.stdout.write(`${text}\n`);

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  Runtime.install({ logger: new DefaultLogger('ERROR') });

  print('temporal-governance benchmark');
  print(machineInfo());

  const keys = makeBenchKeys();
  try {
    if (!options.skipLatency) {
      const stack = await startDevStack({ name: 'bench', log: (line) => log(`stack: ${line}`) });
      stopOnSignals(stack);
      try {
        print(stack.description.join('\n'));
        const server = { address: stack.temporalAddress, namespace: stack.namespace, mongoUri: stack.mongoUri!, keys, rounds: options.rounds, warmup: options.warmup, log };
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
        }
        log(`measuring message latency: ${options.messages} signals and as many updates per variant in ${options.rounds} rounds`);
        print(messagesTable(await runMessages({ ...server, messages: options.messages })));
      } finally {
        await stack.stop();
      }
    }

    if (!options.messagesOnly) {
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
