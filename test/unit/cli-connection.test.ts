// How the CLI resolves its Temporal connection (pure: no server). Precedence per setting: flag,
// then TEMPORAL_* environment variable, then the profile in the TOML config file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataConverterModule, resolveConnection, type ConnectionFlags } from '../../src/cli/temporal';

const dir = mkdtempSync(join(tmpdir(), 'cli-connection-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const SECRET = 'tgk.profile-secret-0123456789';
const config = file(
  'temporal.toml',
  `[profile.default]
address = "profile.example:7233"
namespace = "profile-ns"

[profile.cloud]
address = "my-ns.a1b2c.tmprl.cloud:7233"
namespace = "my-ns.a1b2c"
api_key = "${SECRET}"

[profile.plain]
address = "plain.example:7233"
api_key = "${SECRET}"
tls = { disabled = true }
`,
);
/** Resolve with only these variables set (HOME points nowhere, so no default config file is found). */
const resolveWith = (flags: ConnectionFlags, env: Record<string, string> = {}) => resolveConnection(flags, { HOME: dir, ...env });

describe('precedence', () => {
  test('nothing anywhere: 127.0.0.1:7233, namespace default, no TLS', () => {
    const r = resolveWith({});
    expect(r.connectionOptions).toMatchObject({ address: '127.0.0.1:7233' });
    expect(r.connectionOptions.tls).toBeUndefined();
    expect(r.namespace).toBe('default');
    expect(r.description).toBe('127.0.0.1:7233 (namespace default, no TLS)');
  });

  test('the default profile of the config file', () => {
    const r = resolveWith({}, { TEMPORAL_CONFIG_FILE: config });
    expect(r.connectionOptions.address).toBe('profile.example:7233');
    expect(r.namespace).toBe('profile-ns');
  });

  test('environment over profile, flag over environment, each setting on its own', () => {
    const env = { TEMPORAL_CONFIG_FILE: config, TEMPORAL_ADDRESS: 'env.example:7233' };
    const envOverProfile = resolveWith({}, env);
    expect(envOverProfile.connectionOptions.address).toBe('env.example:7233');
    expect(envOverProfile.namespace).toBe('profile-ns');

    const flagOverEnv = resolveWith({ address: 'flag.example:7233' }, { ...env, TEMPORAL_NAMESPACE: 'env-ns' });
    expect(flagOverEnv.connectionOptions.address).toBe('flag.example:7233');
    expect(flagOverEnv.namespace).toBe('env-ns');

    expect(resolveWith({ namespace: 'flag-ns' }, { ...env, TEMPORAL_NAMESPACE: 'env-ns' }).namespace).toBe('flag-ns');
  });

  test('--profile over TEMPORAL_PROFILE over "default"; --config-file over TEMPORAL_CONFIG_FILE', () => {
    const other = file('other.toml', '[profile.default]\naddress = "other.example:7233"\n');
    expect(resolveWith({}, { TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'cloud' }).namespace).toBe('my-ns.a1b2c');
    expect(resolveWith({ profile: 'default' }, { TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'cloud' }).namespace).toBe('profile-ns');
    expect(resolveWith({ 'config-file': other }, { TEMPORAL_CONFIG_FILE: config }).connectionOptions.address).toBe('other.example:7233');
  });

  test('an empty environment variable counts as unset', () => {
    const r = resolveWith({}, { TEMPORAL_CONFIG_FILE: config, TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '', TEMPORAL_API_KEY: '' });
    expect(r.connectionOptions.address).toBe('profile.example:7233');
    expect(r.connectionOptions.apiKey).toBeUndefined();
  });

  test('--disable-config-env ignores TEMPORAL_ADDRESS; --disable-config-file ignores the file', () => {
    const env = { TEMPORAL_CONFIG_FILE: config, TEMPORAL_ADDRESS: 'env.example:7233' };
    expect(resolveWith({ 'disable-config-env': true }, env).connectionOptions.address).toBe('profile.example:7233');
    expect(resolveWith({ 'disable-config-file': true }, env).connectionOptions.address).toBe('env.example:7233');
    expect(resolveWith({ 'disable-config-file': true, 'disable-config-env': true, address: 'flag.example:1' }, env).connectionOptions.address).toBe('flag.example:1');
  });
});

describe('API keys and TLS', () => {
  test('an API key (Temporal Cloud profile) turns TLS on and is never in the description', () => {
    const r = resolveWith({ profile: 'cloud' }, { TEMPORAL_CONFIG_FILE: config });
    expect(r.connectionOptions).toMatchObject({ address: 'my-ns.a1b2c.tmprl.cloud:7233', apiKey: SECRET, tls: true });
    expect(r.description).toBe('my-ns.a1b2c.tmprl.cloud:7233 (namespace my-ns.a1b2c, TLS, API key, profile cloud)');
    expect(r.secrets).toContain(SECRET);
  });

  test('--api-key over TEMPORAL_API_KEY over the profile', () => {
    const env = { TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'cloud' };
    expect(resolveWith({}, { ...env, TEMPORAL_API_KEY: 'env-key' }).connectionOptions.apiKey).toBe('env-key');
    expect(resolveWith({ 'api-key': 'flag-key' }, { ...env, TEMPORAL_API_KEY: 'env-key' }).connectionOptions.apiKey).toBe('flag-key');
  });

  test('tls.disabled in the profile keeps TLS off even with an API key; any TLS flag turns it back on', () => {
    expect(resolveWith({ profile: 'plain' }, { TEMPORAL_CONFIG_FILE: config }).connectionOptions.tls).toBe(false);
    expect(resolveWith({ profile: 'plain', tls: true }, { TEMPORAL_CONFIG_FILE: config }).connectionOptions.tls).toEqual(expect.objectContaining({}));
    expect(resolveWith({ 'tls-server-name': 'front.example' }, { TEMPORAL_TLS: 'false' }).connectionOptions.tls).toMatchObject({ serverNameOverride: 'front.example' });
  });

  test('TLS from the environment: CA and client pair from files, as bytes', () => {
    const ca = file('ca.pem', 'CA PEM');
    const crt = file('client.pem', 'CERT PEM');
    const key = file('client.key', 'KEY PEM');
    const r = resolveWith({}, { TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca, TEMPORAL_TLS_CLIENT_CERT_PATH: crt, TEMPORAL_TLS_CLIENT_KEY_PATH: key });
    const tls = r.connectionOptions.tls as { serverRootCACertificate: Uint8Array; clientCertPair: { crt: Uint8Array; key: Uint8Array } };
    expect(Buffer.from(tls.serverRootCACertificate).toString()).toBe('CA PEM');
    expect(Buffer.from(tls.clientCertPair.crt).toString()).toBe('CERT PEM');
    expect(Buffer.from(tls.clientCertPair.key).toString()).toBe('KEY PEM');
    expect(r.secrets).toContain('KEY PEM');
    // A flag replaces the environment's source for the same file.
    const flagged = resolveWith({ 'tls-ca-data': 'FLAG CA' }, { TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca });
    expect(Buffer.from((flagged.connectionOptions.tls as { serverRootCACertificate: Uint8Array }).serverRootCACertificate).toString()).toBe('FLAG CA');
  });

  test('--grpc-meta KEY=VALUE headers, lower-cased keys', () => {
    expect(resolveWith({ 'grpc-meta': ['X-Tenant=payments', 'trace=a=b'] }).connectionOptions.metadata).toEqual({ 'x-tenant': 'payments', trace: 'a=b' });
  });
});

describe('errors are one clear line and never carry a secret', () => {
  test.each<[string, ConnectionFlags, Record<string, string>, string]>([
    ['explicit config file missing', { 'config-file': join(dir, 'absent.toml') }, {}, `Temporal config file ${join(dir, 'absent.toml')} does not exist (from --config-file)`],
    ['TEMPORAL_CONFIG_FILE missing', {}, { TEMPORAL_CONFIG_FILE: join(dir, 'absent.toml') }, `Temporal config file ${join(dir, 'absent.toml')} does not exist (from TEMPORAL_CONFIG_FILE)`],
    ['unknown profile', { profile: 'staging' }, { TEMPORAL_CONFIG_FILE: config }, `profile staging not found in ${config}`],
    ['client cert without key', { 'tls-cert-data': 'CERT' }, {}, 'a TLS client certificate needs its key'],
    ['client key without cert', {}, { TEMPORAL_TLS_CLIENT_KEY_DATA: 'KEY' }, 'a TLS client key needs its certificate'],
    ['unreadable CA file', { 'tls-ca-path': join(dir, 'absent-ca.pem') }, {}, `cannot read TLS file ${join(dir, 'absent-ca.pem')}: ENOENT`],
    ['path and data for the same file', { 'tls-ca-path': 'a', 'tls-ca-data': 'b' }, {}, 'give --tls-ca-path or --tls-ca-data, not both'],
    ['bad --grpc-meta', { 'grpc-meta': ['novalue'] }, {}, '--grpc-meta must be KEY=VALUE'],
    ['empty --address', { address: '' }, {}, '--address must not be empty'],
  ])('%s', (_name, flags, env, message) => {
    expect(() => resolveWith(flags, env)).toThrow(message);
  });

  test('a misspelt key in the config file is an error, not a silent default', () => {
    const typo = file('typo.toml', '[profile.default]\nadress = "x:1"\n');
    expect(() => resolveWith({ 'config-file': typo })).toThrow(`cannot use Temporal config file ${typo}: Validation error: key(s) unrecognized in profile.default: adress`);
  });

  test('a TOML syntax error on the api_key line does not echo the key', () => {
    const broken = file('broken.toml', `[profile.default]\napi_key = "${SECRET}\n`);
    let message = '';
    try {
      resolveWith({ 'config-file': broken });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`cannot use Temporal config file ${broken}`);
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain('profile-secret');
  });
});

describe('loadDataConverterModule', () => {
  test('nothing named: undefined', () => {
    expect(loadDataConverterModule(undefined)).toBeUndefined();
  });

  test('a TypeScript module, relative to the working directory, exporting payloadCodecs', () => {
    const converter = loadDataConverterModule('./test/fixtures/cli-codec.ts', join(__dirname, '..', '..'));
    expect(converter?.payloadCodecs).toHaveLength(1);
  });

  test.each([
    ['exports.dataConverter = { payloadCodec: [] };', 'dataConverter: Unrecognized key: "payloadCodec"'],
    ['exports.dataConverter = { payloadCodecs: [{ encode() {} }] };', 'dataConverter.payloadCodecs[0]: a payload codec must be an object with encode and decode methods'],
    ['exports.dataConverter = { payloadConverterPath: 42 };', 'dataConverter.payloadConverterPath:'],
    ['exports.other = 1;', 'has no `dataConverter` export'],
    ['throw new Error("boom\\nsecond line");', 'cannot load data converter module'],
  ])('%s', (source, message) => {
    const module = file(`converter-${Math.random().toString(36).slice(2)}.js`, source);
    expect(() => loadDataConverterModule(module)).toThrow(message);
  });
});
