// `temporal-governance workflow start | execute | signal | update`: a human starts or steers a
// governed workflow from a terminal with their own governance API key. Every call goes through a
// Client with GovernancePlugin({ apiKey }), so it carries the proofs the plugin attaches (a start
// proof today; signal and update proofs where the plugin makes them): this module signs nothing itself.
//
// The governance key is read from a file (--governance-key-file) or TEMPORAL_GOVERNANCE_API_KEY, never
// from a flag value (flags show in `ps`), and it is never printed: errors say where the key came from,
// not what it is. `--api-key` stays what it is in the `temporal` CLI: Temporal Cloud's own API key.
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { DenialDetailsSchema, type DenialDetails } from '../common/schemas';
import { ApiKeyError, parseApiKey } from '../identity/api-key';
import { OperatorError, parseDuration } from '../operators/denials';
import { OUTPUT_OPTION, outputFormat, parse, printJson, required, UsageError, type OutputFormat } from './args';
import { CLIENT_OPTIONS, scrub, withClient, type ClientFlags } from './temporal';

type Out = (line: string) => void;

/** The environment variable that holds the operator's governance API key. */
export const GOVERNANCE_KEY_ENV = 'TEMPORAL_GOVERNANCE_API_KEY';

const KEY_OPTION = { 'governance-key-file': { type: 'string' } } as const;
const INPUT_OPTIONS = { input: { type: 'string', short: 'i', multiple: true }, 'input-file': { type: 'string', multiple: true } } as const;
const TARGET_OPTIONS = { 'workflow-id': { type: 'string', short: 'w' }, 'run-id': { type: 'string', short: 'r' } } as const;
const START_OPTIONS = {
  type: { type: 'string' },
  // The `temporal` CLI's alias of --type.
  name: { type: 'string' },
  'task-queue': { type: 'string', short: 't' },
  'workflow-id': { type: 'string', short: 'w' },
  'run-timeout': { type: 'string' },
  'execution-timeout': { type: 'string' },
  'task-timeout': { type: 'string' },
  ...INPUT_OPTIONS,
  ...KEY_OPTION,
  ...OUTPUT_OPTION,
  ...CLIENT_OPTIONS,
} as const;

/** The operator's key and where it came from (said in errors instead of the key). */
interface GovernanceKey {
  readonly apiKey: string;
  readonly source: string;
}

/**
 * The governance API key: --governance-key-file, else TEMPORAL_GOVERNANCE_API_KEY. No key is a
 * usage error; a malformed one fails (exit 1) naming its source, never its content.
 */
export function readGovernanceKey(file: string | undefined, env: NodeJS.ProcessEnv, warn: Out): GovernanceKey {
  let apiKey: string;
  let source: string;
  if (file !== undefined) {
    if (file === '') throw new UsageError('--governance-key-file must not be empty');
    source = `governance key file ${file}`;
    let mode: number;
    try {
      mode = statSync(file).mode;
      apiKey = readFileSync(file, 'utf8');
    } catch (err) {
      throw new OperatorError(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    // Like ssh with a private key, but a warning: a mounted secret (Kubernetes, Docker) is often 0644.
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      warn(`temporal-governance: warning: ${source} is readable by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`);
    }
  } else if (env[GOVERNANCE_KEY_ENV]) {
    apiKey = env[GOVERNANCE_KEY_ENV]!;
    source = GOVERNANCE_KEY_ENV;
  } else {
    throw new UsageError(`needs your governance API key: --governance-key-file FILE or ${GOVERNANCE_KEY_ENV} (from "temporal-governance api-keys create")`);
  }
  apiKey = apiKey.trim();
  try {
    parseApiKey(apiKey);
  } catch (err) {
    // ApiKeyError never contains the key; say where it came from.
    if (err instanceof ApiKeyError) throw new OperatorError(`${err.message} (in ${source})`);
    throw err;
  }
  return { apiKey, source };
}

/** Each -i is one JSON argument; each --input-file one JSON file (not both, as in the `temporal` CLI). */
export function parseInputs(inputs: readonly string[] | undefined, files: readonly string[] | undefined): unknown[] {
  if (inputs?.length && files?.length) throw new UsageError("give -i/--input or --input-file, not both");
  const args: unknown[] = [];
  for (const [i, text] of (inputs ?? []).entries()) {
    try {
      args.push(JSON.parse(text));
    } catch (err) {
      throw new UsageError(`-i/--input #${i + 1} is not JSON (${(err as Error).message}); quote strings: -i '"text"'`);
    }
  }
  for (const file of files ?? []) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new OperatorError(`cannot read input file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    try {
      args.push(JSON.parse(text));
    } catch (err) {
      throw new UsageError(`input file ${file} is not JSON (${(err as Error).message})`);
    }
  }
  return args;
}

function timeout(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`--${option}: ${(err as Error).message}`);
  }
}

function nonEmpty(values: Record<string, unknown>, ...names: string[]): void {
  for (const n of names) if (values[n] === '') throw new UsageError(`--${n} must not be empty`);
}

/** The denial a GovernanceDenied failure carries, or null when its details are not a denial. */
async function denialOf(err: unknown): Promise<{ message: string; details: DenialDetails | null } | undefined> {
  const { findGovernanceDenial } = await import('../common/denial');
  const failure = findGovernanceDenial(err);
  if (!failure) return undefined;
  const parsed = DenialDetailsSchema.safeParse(failure.details?.[0]);
  return { message: failure.message, details: parsed.success ? parsed.data : null };
}

const denialLine = (what: string, d: { message: string; details: DenialDetails | null }) =>
  d.details ? `temporal-governance: ${what} was denied by governance: ${d.details.code}: ${d.details.reason}` : `temporal-governance: ${what} was denied by governance: ${d.message}`;

/** Errors the SDK raises for a named workflow, as one line (exit 1) instead of a stack trace. */
async function operatorErrors<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const { WorkflowNotFoundError, WorkflowExecutionAlreadyStartedError } = await import('@temporalio/client');
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new OperatorError(`${what}: ${err.message}`);
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new OperatorError(`${what}: a workflow with this id is already running`);
    throw err;
  }
}

/** Runs fn with a Client that carries the operator's key through GovernancePlugin. */
async function withGovernedClient<T>(values: ClientFlags, key: GovernanceKey, fn: (client: Client) => Promise<T>): Promise<T> {
  const { GovernancePlugin } = await import('../plugin');
  try {
    return await withClient(values, fn, { plugins: [new GovernancePlugin({ apiKey: key.apiKey })] });
  } catch (err) {
    // Nothing here puts the key in a message; scrub anyway, so no server echo or bug can print it.
    if (err instanceof Error) {
      const secrets = [key.apiKey, key.apiKey.split('.')[2] ?? ''];
      err.message = scrub(err.message, secrets);
      if (err.stack) err.stack = scrub(err.stack, secrets);
    }
    throw err;
  }
}

interface Started {
  readonly workflowId: string;
  readonly runId: string;
  readonly type: string;
  readonly namespace: string;
  readonly taskQueue: string;
}

function printStarted(out: Out, format: OutputFormat, started: Started): void {
  if (format !== 'table') {
    printJson(out, format, started);
    return;
  }
  out('Running execution:');
  out(`  WorkflowId  ${started.workflowId}`);
  out(`  RunId       ${started.runId}`);
  out(`  Type        ${started.type}`);
  out(`  Namespace   ${started.namespace}`);
  out(`  TaskQueue   ${started.taskQueue}`);
}

/** JSON for a result; `undefined` (a workflow returning nothing) as null. */
const resultJson = (value: unknown) => JSON.stringify(value ?? null);

export async function workflowCommand(sub: string | undefined, rest: string[], out: Out, err: Out, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  switch (sub) {
    case 'start':
    case 'execute': {
      const { values } = parse(rest, START_OPTIONS);
      const format = outputFormat(values);
      if (values.type !== undefined && values.name !== undefined) throw new UsageError('give --type or its alias --name, not both');
      const type = values.type ?? values.name;
      required({ ...values, type }, 'type', 'task-queue');
      nonEmpty(values, 'workflow-id');
      const args = parseInputs(values.input, values['input-file']);
      const options = {
        taskQueue: values['task-queue']!,
        // The `temporal` CLI generates an id too; a governed start needs one to bind its proof to.
        workflowId: values['workflow-id'] ?? randomUUID(),
        args,
        workflowRunTimeout: timeout(values['run-timeout'], 'run-timeout'),
        workflowExecutionTimeout: timeout(values['execution-timeout'], 'execution-timeout'),
        workflowTaskTimeout: timeout(values['task-timeout'], 'task-timeout'),
      };
      const key = readGovernanceKey(values['governance-key-file'], env, err);
      return withGovernedClient(values, key, async (client) => {
        const handle = await operatorErrors(`cannot start workflow ${options.workflowId}`, () => client.workflow.start(type!, options));
        const started: Started = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, type: type!, namespace: client.options.namespace, taskQueue: options.taskQueue };
        if (sub === 'start') {
          printStarted(out, format, started);
          return 0;
        }
        return awaitResult(handle, started, format, out, err);
      });
    }

    case 'signal': {
      const { values } = parse(rest, { ...TARGET_OPTIONS, name: { type: 'string' }, type: { type: 'string' }, ...INPUT_OPTIONS, ...KEY_OPTION, ...CLIENT_OPTIONS });
      if (values.type !== undefined && values.name !== undefined) throw new UsageError('give --name or its alias --type, not both');
      const name = values.name ?? values.type;
      required({ ...values, name }, 'workflow-id', 'name');
      nonEmpty(values, 'run-id');
      const args = parseInputs(values.input, values['input-file']);
      const key = readGovernanceKey(values['governance-key-file'], env, err);
      const workflowId = values['workflow-id']!;
      await withGovernedClient(values, key, (client) =>
        operatorErrors(`cannot signal workflow ${workflowId}`, () => client.workflow.getHandle(workflowId, values['run-id']).signal(name!, ...args)),
      );
      // Accepted by the server; governance decides in the workflow, before the handler runs.
      out(`Signal ${name} sent to workflow ${workflowId}${values['run-id'] ? ` run ${values['run-id']}` : ''}.`);
      return 0;
    }

    case 'update': {
      const { values } = parse(rest, { ...TARGET_OPTIONS, name: { type: 'string' }, 'update-id': { type: 'string' }, ...INPUT_OPTIONS, ...KEY_OPTION, ...OUTPUT_OPTION, ...CLIENT_OPTIONS });
      const format = outputFormat(values);
      required(values, 'workflow-id', 'name');
      nonEmpty(values, 'run-id', 'update-id');
      const args = parseInputs(values.input, values['input-file']);
      const key = readGovernanceKey(values['governance-key-file'], env, err);
      const workflowId = values['workflow-id']!;
      const name = values.name!;
      const { WorkflowUpdateFailedError } = await import('@temporalio/client');
      return withGovernedClient(values, key, async (client) => {
        const handle = client.workflow.getHandle(workflowId, values['run-id']);
        const updateId = values['update-id'] ?? randomUUID();
        let result: unknown;
        try {
          result = await operatorErrors(`cannot update workflow ${workflowId}`, () => handle.executeUpdate(name, { args: args as [unknown, ...unknown[]], updateId }) /* the overloads split on arity; any length is sent as is */);
        } catch (e) {
          if (!(e instanceof WorkflowUpdateFailedError)) throw e;
          const denial = await denialOf(e);
          if (denial) {
            err(denialLine(`update ${name} of workflow ${workflowId}`, denial));
            if (format !== 'table') printJson(out, format, { workflowId, name, updateId, status: 'DENIED', denial: denial.details ?? { message: denial.message } });
          } else {
            err(`temporal-governance: update ${name} of workflow ${workflowId} failed: ${(e.cause as Error | undefined)?.message ?? e.message}`);
          }
          return 1;
        }
        if (format !== 'table') printJson(out, format, { workflowId, name, updateId, result: result ?? null });
        else out(resultJson(result));
        return 0;
      });
    }

    default:
      throw new UsageError(`unknown workflow command ${sub ?? '(none)'}; expected start, execute, signal or update`);
  }
}

/** `workflow execute`: the result, or the denial (code and reason) or failure, exit 1. */
async function awaitResult(handle: WorkflowHandle, started: Started, format: OutputFormat, out: Out, err: Out): Promise<number> {
  const { WorkflowFailedError } = await import('@temporalio/client');
  // The ids first, while the run is under way; JSON output is one value, at the end.
  if (format === 'table') printStarted(out, format, started);
  try {
    const result = await handle.result();
    if (format !== 'table') printJson(out, format, { ...started, status: 'COMPLETED', result: result ?? null });
    else out(`Result: ${resultJson(result)}`);
    return 0;
  } catch (e) {
    if (!(e instanceof WorkflowFailedError)) throw e;
    const denial = await denialOf(e);
    if (denial) err(denialLine(`workflow ${started.workflowId}`, denial));
    else err(`temporal-governance: workflow ${started.workflowId} failed: ${(e.cause as Error | undefined)?.message ?? e.message}`);
    if (format !== 'table') printJson(out, format, { ...started, status: 'FAILED', ...(denial ? { denial: denial.details ?? { message: denial.message } } : { failure: (e.cause as Error | undefined)?.message ?? e.message }) });
    return 1;
  }
}
