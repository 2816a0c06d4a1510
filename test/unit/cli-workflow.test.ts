// The workflow commands' pure parts: the governance key's sources and errors, and -i/--input-file.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey } from '../../src/identity/api-key';
import { OperatorError } from '../../src/operators/denials';
import { UsageError } from '../../src/cli/args';
import { GOVERNANCE_KEY_ENV, parseInputs, readGovernanceKey } from '../../src/cli/workflow';

const dir = mkdtempSync(join(tmpdir(), 'cli-workflow-'));
function file(name: string, content: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

describe('readGovernanceKey', () => {
  const key = generateApiKey().apiKey;
  const other = generateApiKey().apiKey;

  it('reads the file (trimmed), which beats the variable; else the variable', () => {
    const warnings: string[] = [];
    const path = file('k', `${key}\n`);
    expect(readGovernanceKey(path, { [GOVERNANCE_KEY_ENV]: other }, (l) => warnings.push(l))).toEqual({ apiKey: key, source: `governance key file ${path}` });
    expect(readGovernanceKey(undefined, { [GOVERNANCE_KEY_ENV]: ` ${other} ` }, (l) => warnings.push(l))).toEqual({ apiKey: other, source: GOVERNANCE_KEY_ENV });
    expect(warnings).toEqual([]);
  });

  it('no key, or an empty variable, is a usage error', () => {
    for (const env of [{}, { [GOVERNANCE_KEY_ENV]: '' }]) expect(() => readGovernanceKey(undefined, env, () => undefined)).toThrow(UsageError);
    expect(() => readGovernanceKey('', {}, () => undefined)).toThrow(new UsageError('--governance-key-file must not be empty'));
  });

  it('a malformed key fails naming its source, not its content', () => {
    const path = file('bad', 'tgk.ak_0123456789abcdef.sekret');
    let error: unknown;
    try {
      readGovernanceKey(path, {}, () => undefined);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OperatorError);
    expect((error as Error).message).toContain(`(in governance key file ${path})`);
    expect((error as Error).message).not.toContain('sekret');
  });

  it('warns, without failing, when other users can read the file', () => {
    const warnings: string[] = [];
    const path = file('shared', key, 0o640);
    expect(readGovernanceKey(path, {}, (l) => warnings.push(l)).apiKey).toBe(key);
    expect(warnings).toEqual([`temporal-governance: warning: governance key file ${path} is readable by other users (mode 0640); chmod 600 it`]);
  });
});

describe('parseInputs', () => {
  it('one JSON value per -i, in order; none is no arguments', () => {
    expect(parseInputs(['10', '"text"', '{"a":[1,null]}', 'null'], undefined)).toEqual([10, 'text', { a: [1, null] }, null]);
    expect(parseInputs(undefined, undefined)).toEqual([]);
  });

  it('one JSON value per --input-file', () => {
    expect(parseInputs(undefined, [file('a.json', '{"amount": 10}\n'), file('b.json', '"m"')])).toEqual([{ amount: 10 }, 'm']);
  });

  it('rejects text that is not JSON, and -i with --input-file', () => {
    expect(() => parseInputs(['1', 'ten'], undefined)).toThrow(/^-i\/--input #2 is not JSON/);
    expect(() => parseInputs(undefined, [file('c.json', 'ten')])).toThrow(UsageError);
    expect(() => parseInputs(['1'], [file('d.json', '1')])).toThrow(new UsageError('give -i/--input or --input-file, not both'));
    expect(() => parseInputs(undefined, [join(dir, 'missing.json')])).toThrow(new OperatorError(`cannot read input file ${join(dir, 'missing.json')}: ENOENT`));
  });
});
