// The command table: every command's usage line, what it does and its options. `help`, `--help`,
// usage errors and docs/cli.md all come from here, so they cannot drift apart.

export interface CommandSpec {
  /** The words that name it, e.g. `api-keys create`. */
  readonly name: string;
  /** Everything after the name on the usage line. */
  readonly args: string;
  readonly summary: string;
  /** [flag, description] pairs shown by `help <command>`. */
  readonly options?: ReadonlyArray<readonly [string, string]>;
  /** Takes the Temporal connection options; a `client` command also takes --data-converter. */
  readonly temporal?: 'connection' | 'client';
  /** Reads or writes MongoDB: MONGODB_URI and --database. */
  readonly mongo?: boolean;
}

const DATABASE = ['--database DB', 'MongoDB database (default temporal_governance); the server is MONGODB_URI'] as const;
const output = (what: string) => ['-o, --output table|json|jsonl', `table (default), JSON, or one JSON value per line (${what})`] as const;
const SINCE = ['--since DURATION', 'only the last 90s, 15m, 1h, 7d, ...'] as const;
const LIMIT = ['--limit N', 'at most N rows (default 100)'] as const;

const GOVERNANCE_KEY = [
  '--governance-key-file FILE',
  'file holding your governance API key (as api-keys create printed it), else TEMPORAL_GOVERNANCE_API_KEY; never printed (--api-key is Temporal Cloud\'s own key)',
] as const;
const WORKFLOW_INPUT_OPTIONS = [
  ['-i, --input JSON', 'one argument as JSON, repeatable (-i 10 -i \'"text"\')'],
  ['--input-file FILE', 'one argument from a JSON file, repeatable; not with --input'],
] as const;
const WORKFLOW_START_OPTIONS = [
  ['--type TYPE', 'the workflow type (alias --name)'],
  ['-t, --task-queue QUEUE', 'the task queue its workers poll'],
  ['-w, --workflow-id ID', 'the workflow id (default: a random UUID)'],
  ...WORKFLOW_INPUT_OPTIONS,
  ['--run-timeout D', 'fail the run after D (90s, 15m, 1h, 7d)'],
  ['--execution-timeout D', 'fail the execution, retries and continue-as-new included, after D'],
  ['--task-timeout D', 'workflow task start-to-close timeout (default 10s)'],
  GOVERNANCE_KEY,
  output('the ids on one line'),
] as const;

export const COMMANDS: readonly CommandSpec[] = [
  { name: 'demo', args: '[--keep-running]', summary: 'Run the governed payments demo on the embedded dev stack.', options: [['--keep-running', 'keep the dev stack running afterwards to browse the Web UI (Ctrl-C stops it)']] },
  { name: 'stack', args: '', summary: 'Start the dev stack (Temporal dev server + Web UI, MongoDB) until Ctrl-C; prints the exports that point the CLI at it.' },
  {
    name: 'signing-keys generate',
    args: '--key FILE --bundle FILE [--kid ID]',
    summary: 'Create an Ed25519 signing key (mode 0600, never printed) and add its public half to the trust bundle (created if missing).',
    options: [
      ['--key FILE', 'where to write the signing key; an existing file is never overwritten'],
      ['--bundle FILE', 'the trust bundle to add the public key to'],
      ['--kid ID', 'key id (default key-<date>-<random>)'],
    ],
  },
  {
    name: 'signing-keys retire',
    args: '--bundle FILE --kid KID [--at ISO]',
    summary: 'Stop accepting what the key signs from then on; what it signed before stays valid unless you also revoke it.',
    options: [
      ['--bundle FILE', 'the trust bundle holding the key'],
      ['--kid KID', 'the key to retire'],
      ['--at ISO', 'from when (ISO 8601, default now); retiring never extends a key'],
    ],
  },
  {
    name: 'principals create',
    args: 'ID --roles a,b[,c] [--description TEXT] [--database DB]',
    summary: 'Create a principal holding these roles.',
    options: [['--roles a,b', 'comma-separated roles'], ['--description TEXT', 'free text'], DATABASE],
    mongo: true,
  },
  {
    name: 'principals list',
    args: '[--database DB] [-o table|json|jsonl]',
    summary: 'Principals, their roles and whether they are revoked.',
    options: [DATABASE, output('one principal per line')],
    mongo: true,
  },
  {
    name: 'api-keys create',
    args: '--principal P [--roles a,b] [--expires-in 30d | --expires-at ISO] [--database DB] [-o table|json|jsonl]',
    summary:
      'Create an API key (all of P\'s roles, or a subset). The key alone goes to stdout, once (KEY=$(temporal-governance api-keys create ...)); what it is goes to stderr. -o json prints {"apiKey", "id", "principal", "roles", "createdAt", "expiresAt"} instead.',
    options: [
      ['--principal P', 'the principal the key authenticates'],
      ['--roles a,b', "a subset of the principal's roles (default all of them, as they change)"],
      ['--expires-in DURATION', 'expiry from now: 90s, 15m, 1h, 30d, ...'],
      ['--expires-at ISO', 'expiry as an ISO 8601 date or time (default: never)'],
      DATABASE,
      ['-o, --output table|json|jsonl', 'the key alone (default), or a JSON object with the key and its metadata'],
    ],
    mongo: true,
  },
  {
    name: 'api-keys list',
    args: '[--principal P] [--database DB] [-o table|json|jsonl]',
    summary: 'API keys: ids, roles, expiry, revocation (nothing secret is stored, so nothing secret is printed).',
    options: [['--principal P', 'only this principal\'s keys'], DATABASE, output('one key per line')],
    mongo: true,
  },
  {
    name: 'api-keys expire',
    args: 'KEY_ID [--at ISO] [--database DB]',
    summary: "Set or bring forward a key's expiry; expiring never extends a key.",
    options: [['--at ISO', 'when (ISO 8601, default now)'], DATABASE],
    mongo: true,
  },
  {
    name: 'revoke',
    args: 'principal ID | api-key ID | authorization ID | signing-key KID [--reason TEXT] [--database DB]',
    summary: 'Revoke it; revoking an authorization revokes everything below it (for a continue-as-new hop, its chain id too; an id lineage does not know is revoked as given, with a note). Enforcement points deny within the maximum staleness.',
    options: [['--reason TEXT', 'recorded with the revocation'], DATABASE],
    mongo: true,
  },
  {
    name: 'revocations list',
    args: '[--database DB] [-o table|json|jsonl]',
    summary: 'Every revocation, oldest first.',
    options: [DATABASE, output('one revocation per line')],
    mongo: true,
  },
  { name: 'policy check', args: 'FILE', summary: 'Validate a policy file and print its version.' },
  {
    name: 'worker governance',
    args: '--policy FILE --key FILE --bundle FILE [--task-queue Q] [--ttl-ms N] [--log-level L] [--health-port N] [--health-host HOST] [--direct-port N] [--direct-host HOST] [--direct-tls-cert FILE --direct-tls-key FILE] [--database DB] [connection options]',
    summary: 'Run a governance worker (the authorization activity) until SIGINT/SIGTERM.',
    options: [
      ['--policy FILE', 'the policy (YAML or JSON)'],
      ['--key FILE', 'the signing key'],
      ['--bundle FILE', 'the trust bundle'],
      ['--task-queue Q', 'governance task queue (default temporal-governance)'],
      ['--ttl-ms N', 'artifact lifetime in milliseconds (default 300000)'],
      ['--log-level L', 'trace|debug|info|warn|error (default info: one line per decision)'],
      ['--health-port N', 'serve /healthz, /readyz and /metrics (Prometheus) on this port (default: no health port)'],
      ['--health-host HOST', 'address the health port binds (default 127.0.0.1)'],
      ['--direct-port N', 'serve direct authorization (POST /v1/authorize, worker-key signed) on this port (default: none; docs/direct-authorization.md)'],
      ['--direct-host HOST', 'address the direct-authorization endpoint binds (default 127.0.0.1; any other needs TLS)'],
      ['--direct-tls-cert FILE', 'PEM certificate of the direct-authorization endpoint'],
      ['--direct-tls-key FILE', 'PEM private key of the direct-authorization endpoint'],
      DATABASE,
    ],
    temporal: 'client',
    mongo: true,
  },
  {
    name: 'worker demo-app',
    args: '--bundle FILE [--task-queue Q] [--governance-task-queue Q] [--log-level L] [--database DB] [connection options]',
    summary: "Run the payments demo's app worker with governance wired in.",
    options: [
      ['--bundle FILE', 'the trust bundle'],
      ['--task-queue Q', 'the app task queue (default payments)'],
      ['--governance-task-queue Q', 'default temporal-governance'],
      ['--log-level L', 'trace|debug|info|warn|error (default info)'],
      DATABASE,
    ],
    temporal: 'client',
    mongo: true,
  },
  {
    name: 'denials list',
    args: '[--since 1h] [--limit N] [-o table|json|jsonl] [connection options]',
    summary: 'Denied workflows, from Temporal visibility (GovernanceDecision = "denied").',
    options: [SINCE, LIMIT, output('one workflow per line')],
    temporal: 'client',
  },
  {
    name: 'denials show',
    args: 'WORKFLOW_ID [-o table|json|jsonl] [connection options]',
    summary: 'Why a workflow was denied: its failure sentence and structured details (decoded with --data-converter if given). Exit 1 if it was not denied.',
    options: [output('the report on one line')],
    temporal: 'client',
  },
  {
    name: 'workflow start',
    args: '--type TYPE -t QUEUE [-w ID] [-i JSON ...] [--input-file FILE ...] [--run-timeout D] [--execution-timeout D] [--task-timeout D] [--governance-key-file FILE] [-o table|json|jsonl] [connection options]',
    summary: 'Start a governed workflow with your governance API key (the start carries a proof of it, as from a client with GovernancePlugin); prints its workflow id and run id.',
    options: WORKFLOW_START_OPTIONS,
    temporal: 'client',
  },
  {
    name: 'workflow execute',
    args: '--type TYPE -t QUEUE [-w ID] [-i JSON ...] [--input-file FILE ...] [--run-timeout D] [--execution-timeout D] [--task-timeout D] [--governance-key-file FILE] [-o table|json|jsonl] [connection options]',
    summary: 'Start a governed workflow like workflow start and wait for its result. Exit 1 if it fails; a governance denial prints its deny code and reason.',
    options: WORKFLOW_START_OPTIONS,
    temporal: 'client',
  },
  {
    name: 'workflow signal',
    args: '-w ID [-r RUN_ID] --name NAME [-i JSON ...] [--input-file FILE ...] [--governance-key-file FILE] [connection options]',
    summary: "Signal a workflow with your governance API key (through GovernancePlugin, so the signal carries the plugin's proof); governance decides in the workflow before the handler runs.",
    options: [
      ['-w, --workflow-id ID', 'the workflow'],
      ['-r, --run-id RUN_ID', 'one run of it (default: the latest)'],
      ['--name NAME', 'the signal name (alias --type)'],
      ...WORKFLOW_INPUT_OPTIONS,
      GOVERNANCE_KEY,
    ],
    temporal: 'client',
  },
  {
    name: 'workflow update',
    args: '-w ID [-r RUN_ID] --name NAME [-i JSON ...] [--input-file FILE ...] [--update-id ID] [--governance-key-file FILE] [-o table|json|jsonl] [connection options]',
    summary: "Send an update with your governance API key (through GovernancePlugin) and wait for its result, printed as JSON. Exit 1 if it fails; a governance denial prints its deny code and reason.",
    options: [
      ['-w, --workflow-id ID', 'the workflow'],
      ['-r, --run-id RUN_ID', 'one run of it (default: the latest)'],
      ['--name NAME', 'the update handler name'],
      ...WORKFLOW_INPUT_OPTIONS,
      ['--update-id ID', 'the update id (default: a random UUID)'],
      GOVERNANCE_KEY,
      ['-o, --output table|json|jsonl', 'table (default) prints the result as JSON; json, jsonl print {"workflowId", "name", "updateId", "result"}'],
    ],
    temporal: 'client',
  },
  {
    name: 'lineage show',
    args: 'ID [--database DB] [-o table|json|jsonl]',
    summary: 'One lineage record and its recorded outcomes.',
    options: [DATABASE, output('the record on one line')],
    mongo: true,
  },
  {
    name: 'lineage ancestry',
    args: 'ID [--database DB] [-o table|json|jsonl]',
    summary: 'A record and its ancestors, root first. Exit 1 if an ancestor document is missing.',
    options: [DATABASE, output('the result on one line')],
    mongo: true,
  },
  {
    name: 'lineage descendants',
    args: 'ID [--database DB] [-o table|json|jsonl]',
    summary: 'Everything lineage records below a record.',
    options: [DATABASE, output('one record per line')],
    mongo: true,
  },
  {
    name: 'lineage denials',
    args: '[--since 1h] [--principal P] [--limit N] [--database DB] [-o table|json|jsonl]',
    summary: 'Denied authorizations recorded in lineage, newest first.',
    options: [SINCE, ['--principal P', 'only this principal'], LIMIT, DATABASE, output('one record per line')],
    mongo: true,
  },
  {
    name: 'lineage verify',
    args: '--bundle FILE [--root R] [--database DB] [-o table|json|jsonl]',
    summary: 'Check offline every signature, hash link, parent/ancestor link and sequence number (all roots, or one); exit 1 on any violation.',
    options: [['--bundle FILE', 'the trust bundle'], ['--root R', 'only this root'], DATABASE, output('the summary on one line')],
    mongo: true,
  },
  {
    name: 'lineage export',
    args: '--root R --format json|mermaid|dot [--database DB]',
    summary: "One root's lineage as JSON records, a Mermaid flowchart or a DOT graph.",
    options: [['--root R', 'the root'], ['--format json|mermaid|dot', 'what to write'], DATABASE],
    mongo: true,
  },
  {
    name: 'console',
    args: '[--port 8234] [--host 127.0.0.1] [--token TOKEN] [--bundle FILE] [--web-ui URL] [--governance-task-queue Q] [--database DB] [connection options]',
    summary: 'Serve the read-only governance console (lineage explorer, proof viewer, health dashboard, /healthz /readyz /metrics /api/proof/:id) until Ctrl-C.',
    options: [
      ['--port N', 'port to listen on (default 8234; 0 = any free port)'],
      ['--host HOST', 'address to bind (default 127.0.0.1); anything but loopback requires --token'],
      ['--token TOKEN', 'bearer token every request must send (or TEMPORAL_GOVERNANCE_CONSOLE_TOKEN; prefer the variable: flags show in ps)'],
      ['--bundle FILE', 'the trust bundle records are verified against (served to the proof viewer)'],
      ['--web-ui URL', 'the Temporal Web UI, for links to runs (default http://127.0.0.1:8233 when Temporal is local)'],
      ['--governance-task-queue Q', 'the governance task queue the health page inspects (default temporal-governance)'],
      DATABASE,
    ],
    temporal: 'connection',
    mongo: true,
  },
  { name: 'version', args: '', summary: 'Print the version (also --version).' },
  { name: 'help', args: '[COMMAND]', summary: 'List the commands, or show one command\'s usage and options (also COMMAND --help).' },
];

export const CONNECTION_HELP = `Temporal connection (a flag beats its environment variable, which beats the profile in the config file):
  --address HOST:PORT           TEMPORAL_ADDRESS                    default 127.0.0.1:7233
  -n, --namespace NS            TEMPORAL_NAMESPACE                  default "default"
  --api-key KEY                 TEMPORAL_API_KEY                    turns TLS on; prefer the variable or a profile (flags show in ps)
  --tls                         TEMPORAL_TLS=true                   TLS with the system's CA roots
  --tls-ca-path FILE            TEMPORAL_TLS_SERVER_CA_CERT_PATH    (or --tls-ca-data PEM, TEMPORAL_TLS_SERVER_CA_CERT_DATA)
  --tls-cert-path FILE          TEMPORAL_TLS_CLIENT_CERT_PATH       mTLS client certificate (or --tls-cert-data PEM)
  --tls-key-path FILE           TEMPORAL_TLS_CLIENT_KEY_PATH        its private key (or --tls-key-data PEM)
  --tls-server-name NAME        TEMPORAL_TLS_SERVER_NAME            override the TLS server name
  --grpc-meta KEY=VALUE         TEMPORAL_GRPC_META_<KEY>            gRPC header, repeatable
  --profile NAME                TEMPORAL_PROFILE                    profile in the config file (default "default")
  --config-file FILE            TEMPORAL_CONFIG_FILE                default ~/.config/temporalio/temporal.toml
  --disable-config-file, --disable-config-env                      ignore the config file / the TEMPORAL_* variables`;

export const CODEC_HELP = `Payloads:
  --data-converter MODULE       TEMPORAL_GOVERNANCE_DATA_CONVERTER  a JS/TS module exporting \`dataConverter\` (payloadConverterPath,
                                                                    payloadCodecs): decodes what your workers' codec encoded`;

export const MONGO_HELP = 'MongoDB: MONGODB_URI (required), --database DB.';

const byName = new Map(COMMANDS.map((c) => [c.name, c]));

export function findCommand(name: string): CommandSpec | undefined {
  return byName.get(name);
}

/** The subcommands of a group such as `lineage`, empty if `group` is not one. */
export function subcommandsOf(group: string): CommandSpec[] {
  return COMMANDS.filter((c) => c.name.startsWith(`${group} `));
}

export const usageLine = (c: CommandSpec) => `temporal-governance ${c.name}${c.args ? ` ${c.args}` : ''}`;

/** What `help COMMAND` and `COMMAND --help` print. */
export function commandHelp(c: CommandSpec): string {
  const lines = [`Usage: ${usageLine(c)}`, '', c.summary];
  if (c.options?.length) {
    const width = Math.max(...c.options.map(([flag]) => flag.length));
    lines.push('', 'Options:', ...c.options.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`));
  }
  if (c.temporal) lines.push('', CONNECTION_HELP);
  if (c.temporal === 'client') lines.push('', CODEC_HELP);
  if (c.mongo) lines.push('', MONGO_HELP);
  return lines.join('\n');
}

/** What `help GROUP` prints (and a usage error inside a group): the usage line of each subcommand. */
export function groupHelp(group: string): string {
  const subs = subcommandsOf(group);
  return [`Usage:`, ...subs.map((c) => `  ${usageLine(c)}`), '', `Run "temporal-governance help ${group} <command>" for a command's options.`].join('\n');
}

/** The full overview (`help` with no command). */
export function overview(): string {
  const lines = ['Usage: temporal-governance <command> [options]', '', 'Commands:'];
  for (const c of COMMANDS) lines.push(`  ${c.name}${c.args ? ` ${c.args}` : ''}`, `      ${c.summary}`);
  lines.push(
    '',
    'Run "temporal-governance help <command>" (or "<command> --help") for its options.',
    'Commands that talk to Temporal take --address, --namespace, --api-key, --tls*, --profile (see their help);',
    'environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE,',
    'TEMPORAL_CONFIG_FILE, TEMPORAL_GOVERNANCE_DATA_CONVERTER; MONGODB_URI for the identity, lineage and worker commands;',
    'TEMPORAL_GOVERNANCE_API_KEY (or --governance-key-file) for the workflow commands.',
  );
  return lines.join('\n');
}
