// Reading a policy file (YAML or JSON). Node-only.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { parsePolicy, PolicyError, type Policy } from './schema';

export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(path, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parsePolicyText(text, path);
}

/** YAML is a superset of JSON, so one parser reads both formats. */
export function parsePolicyText(text: string, source = '<inline>'): Policy {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(source, doc.errors.map((e) => e.message.split('\n')[0] ?? e.message));
  }
  return parsePolicy(doc.toJS(), source);
}
