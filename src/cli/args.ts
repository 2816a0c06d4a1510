// Argument parsing shared by every CLI command (node:util parseArgs): strict options, an exact
// number of positionals, anything else a UsageError (exit 2, the command's usage line).
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command it is about (`api-keys create`, or a group such as `lineage`); main fills it in. */
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: boolean }>>;

export function parse<T extends Options>(args: string[], options: T, positionals = 0): Parsed<T> {
  let parsed: Parsed<T>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals > 0 });
  } catch (err) {
    // parseArgs appends a paragraph on `--` to unknown options; the first sentence is the point.
    throw new UsageError((err as Error).message.split('. To specify a positional argument')[0]!);
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(`expected ${positionals} argument(s), got ${parsed.positionals.length}`);
  }
  return parsed;
}

export function required(values: Record<string, unknown>, ...names: string[]): void {
  const missing = names.filter((n) => typeof values[n] !== 'string' || values[n] === '');
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((n) => `--${n}`).join(', ')}`);
}

export const OUTPUT_FORMATS = ['table', 'json', 'jsonl'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o` / `--output`, as the `temporal` CLI spells it. */
export const OUTPUT_OPTION = { output: { type: 'string', short: 'o' } } as const;

export function outputFormat(values: { output?: string }): OutputFormat {
  const format = values.output ?? 'table';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`-o/--output must be table, json or jsonl, got ${JSON.stringify(format)}`);
  return format as OutputFormat;
}

/**
 * Prints a value as JSON: `json` indented, `jsonl` one line per element of a list (one line for
 * anything else). Dates print as ISO 8601 strings.
 */
export function printJson(out: (line: string) => void, format: Exclude<OutputFormat, 'table'>, value: unknown): void {
  if (format === 'json') out(JSON.stringify(value, null, 2));
  else if (Array.isArray(value)) for (const item of value) out(JSON.stringify(item));
  else out(JSON.stringify(value));
}
