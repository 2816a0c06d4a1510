// How the CLI reaches Temporal: connection settings resolved like the `temporal` CLI does
// (flag > TEMPORAL_* environment variable > profile in the TOML config file, through
// @temporalio/envconfig), and the data converter (`--data-converter MODULE`) that decodes what the
// workers' payload codec encoded. Loaded only by commands that talk to Temporal.
//
// Secrets: the API key and TLS private key are passed to the connection and never printed; every
// message names the address, namespace and where the settings came from, nothing more.
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Client, ClientPlugin } from '@temporalio/client';
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ClientConfigTLS, type ConfigDataSource } from '@temporalio/envconfig';
import { z } from 'zod';
import { OperatorError } from '../operators/denials';
import { UsageError } from './args';

/** The `temporal` CLI's connection flags that the TypeScript SDK can honor. */
export const CONNECTION_OPTIONS = {
  address: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'api-key': { type: 'string' },
  tls: { type: 'boolean' },
  'tls-ca-path': { type: 'string' },
  'tls-ca-data': { type: 'string' },
  'tls-cert-path': { type: 'string' },
  'tls-cert-data': { type: 'string' },
  'tls-key-path': { type: 'string' },
  'tls-key-data': { type: 'string' },
  'tls-server-name': { type: 'string' },
  'grpc-meta': { type: 'string', multiple: true },
  profile: { type: 'string' },
  'config-file': { type: 'string' },
  'disable-config-file': { type: 'boolean' },
  'disable-config-env': { type: 'boolean' },
} as const;

/** Connection options plus the data converter, for commands that read Temporal payloads. */
export const CLIENT_OPTIONS = { ...CONNECTION_OPTIONS, 'data-converter': { type: 'string' } } as const;

export type ConnectionFlags = {
  address?: string;
  namespace?: string;
  'api-key'?: string;
  tls?: boolean;
  'tls-ca-path'?: string;
  'tls-ca-data'?: string;
  'tls-cert-path'?: string;
  'tls-cert-data'?: string;
  'tls-key-path'?: string;
  'tls-key-data'?: string;
  'tls-server-name'?: string;
  'grpc-meta'?: string[];
  profile?: string;
  'config-file'?: string;
  'disable-config-file'?: boolean;
  'disable-config-env'?: boolean;
};
export type ClientFlags = ConnectionFlags & { 'data-converter'?: string };

export const DEFAULT_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_NAMESPACE = 'default';
export const DATA_CONVERTER_ENV = 'TEMPORAL_GOVERNANCE_DATA_CONVERTER';

export interface ResolvedConnection {
  /** For Connection.connect / NativeConnection.connect. */
  readonly connectionOptions: ReturnType<typeof toClientOptions>['connectionOptions'] & { address: string };
  readonly namespace: string;
  /** Printable: address, namespace, TLS, whether an API key is set, the profile. Never a secret. */
  readonly description: string;
  /** Secrets to scrub from any message that is printed (a server might echo one back). */
  readonly secrets: readonly string[];
}

/** The config file named explicitly (flag, then TEMPORAL_CONFIG_FILE); it must exist. */
function explicitConfigFile(flags: ConnectionFlags, env: Record<string, string>): string | undefined {
  const file = flags['config-file'] ?? env.TEMPORAL_CONFIG_FILE;
  if (file === undefined) return undefined;
  if (file === '') throw new UsageError('--config-file must not be empty');
  if (!existsSync(file)) throw new OperatorError(`Temporal config file ${file} does not exist (from ${flags['config-file'] !== undefined ? '--config-file' : 'TEMPORAL_CONFIG_FILE'})`);
  return file;
}

/** One source for a PEM given as a path or as data; both at once is a usage error. */
function pemSource(flags: ConnectionFlags, what: 'ca' | 'cert' | 'key'): ConfigDataSource | undefined {
  const path = flags[`tls-${what}-path`];
  const data = flags[`tls-${what}-data`];
  if (path !== undefined && data !== undefined) throw new UsageError(`give --tls-${what}-path or --tls-${what}-data, not both`);
  if (path === '' || data === '') throw new UsageError(`--tls-${what}-${path === '' ? 'path' : 'data'} must not be empty`);
  return path !== undefined ? { path } : data !== undefined ? { data } : undefined;
}

function grpcMeta(entries: readonly string[] | undefined): Record<string, string> | undefined {
  if (!entries?.length) return undefined;
  const meta: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new UsageError(`--grpc-meta must be KEY=VALUE, got ${JSON.stringify(entry.split('=')[0])}...`);
    meta[entry.slice(0, eq).toLowerCase()] = entry.slice(eq + 1);
  }
  return meta;
}

/** First line only: TOML parse errors quote the offending line, which may hold an api_key. */
const firstLine = (text: string) => text.split('\n')[0] ?? text;

export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***');
  return out;
}

/**
 * The connection the flags, environment and config file describe. Precedence, per setting: flag,
 * then environment variable, then the profile (envconfig applies the environment over the
 * profile; the flags go on top). An empty environment variable counts as unset.
 */
export function resolveConnection(flags: ConnectionFlags, processEnv: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  // Empty values are unset (`TEMPORAL_ADDRESS= cmd` means the default), except TEMPORAL_GRPC_META_*,
  // where envconfig reads an empty value as "remove this header".
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(processEnv)) if (v !== undefined && (v !== '' || k.startsWith('TEMPORAL_GRPC_META_'))) env[k] = v;

  const disableFile = flags['disable-config-file'] === true;
  const disableEnv = flags['disable-config-env'] === true;
  const configFile = disableFile ? undefined : explicitConfigFile(flags, env);
  const profileName = flags.profile ?? env.TEMPORAL_PROFILE;
  if (profileName === '') throw new UsageError('--profile must not be empty');
  const where = configFile ?? 'the default config file (~/.config/temporalio/temporal.toml)';

  let profile: ClientConfigProfile = {};
  if (!(disableFile && disableEnv)) {
    try {
      profile = loadClientConfigProfile({
        profile: profileName,
        configSource: configFile === undefined ? undefined : { path: configFile },
        disableFile,
        disableEnv,
        // Unknown keys are errors: a misspelt `adress` must not silently mean localhost.
        configFileStrict: true,
        overrideEnvVars: env,
      });
    } catch (err) {
      const message = firstLine((err as Error).message);
      if (/^Profile '.*' not found/.test(message)) throw new OperatorError(`profile ${profileName} not found in ${where}`);
      throw new OperatorError(`cannot use Temporal config file ${where}: ${message}`);
    }
  }

  // Flags on top.
  if (flags.address !== undefined) profile.address = flags.address;
  if (flags.namespace !== undefined) profile.namespace = flags.namespace;
  if (flags['api-key'] !== undefined) profile.apiKey = flags['api-key'];
  for (const [name, value] of [['address', profile.address], ['namespace', profile.namespace], ['api-key', profile.apiKey]] as const) {
    if (value === '') throw new UsageError(`--${name} must not be empty`);
  }
  const ca = pemSource(flags, 'ca');
  const cert = pemSource(flags, 'cert');
  const key = pemSource(flags, 'key');
  const tlsFlags = flags.tls === true || ca || cert || key || flags['tls-server-name'] !== undefined;
  if (tlsFlags) {
    // Any TLS flag turns TLS on, as in the `temporal` CLI, even over TEMPORAL_TLS=false.
    const tls: ClientConfigTLS = { ...profile.tls, disabled: false };
    if (ca) tls.serverCACert = ca;
    if (cert) tls.clientCert = cert;
    if (key) tls.clientKey = key;
    if (flags['tls-server-name'] !== undefined) tls.serverName = flags['tls-server-name'];
    profile.tls = tls;
  }
  const meta = grpcMeta(flags['grpc-meta']);
  if (meta) profile.grpcMeta = { ...profile.grpcMeta, ...meta };
  // envconfig drops a certificate without its key (or a key without its certificate) silently.
  if (profile.tls && profile.tls.disabled !== true && Boolean(profile.tls.clientCert) !== Boolean(profile.tls.clientKey)) {
    throw new OperatorError(`a TLS client ${profile.tls.clientCert ? 'certificate needs its key' : 'key needs its certificate'} (--tls-cert-path/--tls-key-path, TEMPORAL_TLS_CLIENT_CERT_PATH/_KEY_PATH or the profile's tls table)`);
  }

  let connect: ReturnType<typeof toClientOptions>;
  try {
    connect = toClientOptions(profile);
  } catch (err) {
    // A TLS file that cannot be read: name the file (the path is not secret), not its contents.
    const e = err as NodeJS.ErrnoException;
    throw new OperatorError(`cannot read TLS file${e.path ? ` ${e.path}` : ''}: ${e.code ?? firstLine(e.message)}`);
  }
  const address = connect.connectionOptions.address ?? DEFAULT_ADDRESS;
  const namespace = connect.namespace ?? DEFAULT_NAMESPACE;
  const tlsOn = connect.connectionOptions.tls !== undefined && connect.connectionOptions.tls !== false;
  const facts = [`namespace ${namespace}`, tlsOn ? 'TLS' : 'no TLS', ...(profile.apiKey ? ['API key'] : []), ...(profileName ? [`profile ${profileName}`] : [])];
  const tls = connect.connectionOptions.tls;
  const secrets = [profile.apiKey, typeof tls === 'object' && tls !== null && tls.clientCertPair ? Buffer.from(tls.clientCertPair.key).toString() : undefined].filter(
    (s): s is string => typeof s === 'string' && s.length > 0,
  );
  return { connectionOptions: { ...connect.connectionOptions, address }, namespace, description: `${address} (${facts.join(', ')})`, secrets };
}

const CodecSchema = z.custom<PayloadCodec>(
  (c) => typeof c === 'object' && c !== null && typeof (c as PayloadCodec).encode === 'function' && typeof (c as PayloadCodec).decode === 'function',
  'a payload codec must be an object with encode and decode methods',
);

/** What a --data-converter module exports as `dataConverter`: the parts the CLI honors, nothing else. */
export const DataConverterExportSchema = z
  .object({
    payloadConverterPath: z.string().min(1).optional(),
    failureConverterPath: z.string().min(1).optional(),
    payloadCodecs: z.array(CodecSchema).optional(),
  })
  .strict();

function registerTypeScript(): void {
  if (require.extensions['.ts']) return;
  try {
    (require('ts-node') as typeof import('ts-node')).register({ transpileOnly: true });
  } catch {
    throw new OperatorError('a TypeScript --data-converter module needs ts-node installed; or compile it to JavaScript');
  }
}

/**
 * Loads `dataConverter` from a module: a path (relative to the working directory) or a package
 * name. Returns undefined when neither the flag nor TEMPORAL_GOVERNANCE_DATA_CONVERTER names one.
 */
export function loadDataConverterModule(spec: string | undefined, cwd = process.cwd()): DataConverter | undefined {
  if (spec === undefined) return undefined;
  if (spec === '') throw new UsageError('--data-converter must not be empty');
  const isPath = spec.startsWith('.') || isAbsolute(spec);
  let file: string;
  try {
    file = require.resolve(isPath ? resolve(cwd, spec) : spec, { paths: [cwd] });
  } catch {
    throw new OperatorError(`cannot find data converter module ${spec}`);
  }
  if (/\.[cm]?ts$/.test(file)) registerTypeScript();
  let mod: unknown;
  try {
    mod = require(file);
  } catch (err) {
    throw new OperatorError(`cannot load data converter module ${spec}: ${firstLine((err as Error).message)}`);
  }
  const exported = (mod as { dataConverter?: unknown } | null)?.dataConverter;
  if (exported === undefined) throw new OperatorError(`data converter module ${spec} has no \`dataConverter\` export`);
  const parsed = DataConverterExportSchema.safeParse(exported);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new OperatorError(`data converter module ${spec}: dataConverter${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`);
  }
  return parsed.data;
}

export class OperatorConnectionError extends Error {
  override readonly name = 'OperatorConnectionError';
}

/**
 * A Client for one command: connects, runs fn, closes. Server errors become one-line messages.
 * `plugins` go to the Client (the workflow commands' GovernancePlugin, which proves their calls).
 */
export async function withClient<T>(flags: ClientFlags, fn: (client: Client) => Promise<T>, options: { plugins?: ClientPlugin[] } = {}): Promise<T> {
  const connection = resolveConnection(flags);
  const dataConverterSpec = flags['data-converter'] ?? (process.env[DATA_CONVERTER_ENV] || undefined);
  const dataConverter = loadDataConverterModule(dataConverterSpec);
  const { Client, Connection, isGrpcServiceError, NamespaceNotFoundError, ServiceError } = await import('@temporalio/client');
  const say = (text: string) => scrub(firstLine(text), connection.secrets);
  let conn;
  try {
    conn = await Connection.connect({ ...connection.connectionOptions, connectTimeout: 5_000 });
  } catch (err) {
    throw new OperatorConnectionError(`cannot reach Temporal at ${connection.description}: ${say((err as Error).message)}`);
  }
  try {
    let client: Client;
    try {
      client = new Client({ connection: conn, namespace: connection.namespace, dataConverter, plugins: options.plugins });
    } catch (err) {
      throw new OperatorError(`data converter module ${dataConverterSpec}: ${say((err as Error).message)}`);
    }
    return await fn(client);
  } catch (err) {
    // What the server said (permission denied, unknown namespace, ...), as the SDK reports it.
    if (isGrpcServiceError(err)) throw new OperatorConnectionError(`Temporal at ${connection.description}: ${say(err.details || err.message)}`);
    if (err instanceof NamespaceNotFoundError || err instanceof ServiceError) {
      const cause = isGrpcServiceError(err.cause) ? `: ${err.cause.details || err.cause.message}` : '';
      throw new OperatorConnectionError(`Temporal at ${connection.description}: ${say(`${err.message}${cause}`)}`);
    }
    if (err instanceof Error && err.name === 'OperatorError') err.message = say(err.message);
    throw err;
  } finally {
    await conn.close();
  }
}

/** A worker's NativeConnection from the same settings; failing to connect names the address only. */
export async function connectNative<C>(
  NativeConnection: { connect(options: ResolvedConnection['connectionOptions']): Promise<C> },
  flags: ConnectionFlags,
): Promise<{ connection: C; namespace: string }> {
  const resolved = resolveConnection(flags);
  try {
    return { connection: await NativeConnection.connect(resolved.connectionOptions), namespace: resolved.namespace };
  } catch (err) {
    throw new OperatorConnectionError(`cannot reach Temporal at ${resolved.description}: ${scrub(firstLine((err as Error).message), resolved.secrets)}`);
  }
}
