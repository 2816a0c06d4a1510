// The proof viewer in the browser: verifies with @noble/ed25519 and the checks of
// src/lineage/verify-record.ts (the same module `lineage verify` runs), against the console's trust
// bundle or the auditor's own. Everything fetched from the server is parsed as an untrusted claim and
// listed as a fact that came from the server. Bundled by esbuild (src/console/browser-build.ts).
import { parseTrustBundle, type TrustBundle } from '../../artifact/trust-bundle';
import { nobleEd25519 } from '../../crypto/noble';
import type { LineageRecord } from '../../lineage/schema';
import {
  CHECK_TITLES,
  LineageRecordJsonSchema,
  recognizeDocument,
  verifyStandalone,
  type DecisionVerification,
  type StandaloneFacts,
} from '../../lineage/verify-record';
import { ProofResponseSchema, RecordIdSchema, type ProofResponse } from '../proof-api';

/** Pasted or uploaded text larger than this is refused before parsing. */
const MAX_DOCUMENT_CHARS = 2 * 1024 * 1024;

class ViewerError extends Error {}

type Child = Node | string | null | undefined | false;
function el(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child); // strings become text nodes: never parsed as HTML
  return node;
}

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new ViewerError(`the page has no #${id}`);
  return node as T;
}

function parseJson(text: string, what: string): unknown {
  if (text.length > MAX_DOCUMENT_CHARS) throw new ViewerError(`${what} is larger than ${MAX_DOCUMENT_CHARS} characters`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ViewerError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** A fact the verification used that came from the server (not from the document or the auditor's bundle). */
interface ServerFact {
  readonly url: string;
  readonly what: string;
}

/** GET a JSON endpoint of this console; null for a 404. */
async function getJson(url: string, facts: ServerFact[], what: string): Promise<{ status: number; body: unknown } | null> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
  } catch (err) {
    throw new ViewerError(`cannot reach the console for ${what} (${url}): ${(err as Error).message}`);
  }
  const body: unknown = await response.json().catch(() => null);
  facts.push({ url, what: response.status === 404 ? `${what}: none (404)` : what });
  if (response.status === 404) return null;
  return { status: response.status, body };
}

async function fetchProof(id: string, facts: ServerFact[], what: string): Promise<ProofResponse | 'missing' | { problems: string[] }> {
  const got = await getJson(`/api/proof/${encodeURIComponent(id)}`, facts, what);
  if (got === null) return 'missing';
  if (got.status === 422) return { problems: [String((got.body as { message?: unknown } | null)?.message ?? 'the document is not a valid lineage record')] };
  if (got.status !== 200) throw new ViewerError(`the console answered ${got.status} for ${what}: ${String((got.body as { message?: unknown } | null)?.message ?? '')}`);
  const parsed = ProofResponseSchema.safeParse(got.body);
  if (!parsed.success) throw new ViewerError(`the console's answer for ${what} is not a proof response: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

function recordOf(response: ProofResponse, what: string): LineageRecord | { problems: string[] } {
  const parsed = LineageRecordJsonSchema.safeParse(response.record);
  if (!parsed.success) return { problems: parsed.error.issues.slice(0, 3).map((i) => `${what}: ${i.path.join('.') || '<root>'}: ${i.message}`) };
  return parsed.data;
}

async function trustBundle(facts: ServerFact[]): Promise<{ trust: TrustBundle; source: string }> {
  const source = (document.querySelector('input[name="bundle-source"]:checked') as HTMLInputElement | null)?.value ?? 'console';
  if (source === 'own') {
    const text = byId<HTMLTextAreaElement>('proof-bundle').value.trim();
    if (text === '') throw new ViewerError('choose "my own" trust bundle: paste or upload it first');
    const trust = parseTrustBundle(parseJson(text, 'your trust bundle'), '(yours)');
    return { trust, source: `your own trust bundle (keys ${[...trust.keys.keys()].join(', ')}), not the server's` };
  }
  const got = await getJson('/api/trust-bundle', facts, "the console's trust bundle");
  if (got === null) throw new ViewerError('this console serves no trust bundle (started without --bundle): paste your own');
  const trust = parseTrustBundle(got.body, '/api/trust-bundle');
  return { trust, source: `the console's trust bundle (keys ${[...trust.keys.keys()].join(', ')}), from the server` };
}

interface Outcome {
  readonly subject: string;
  readonly bundleSource: string;
  readonly verification: DecisionVerification;
  readonly facts: ServerFact[];
  readonly links: Array<[string, string]>;
  readonly serverVerdict: ProofResponse['verification'] | undefined;
  readonly signed: unknown;
}

/** Verifies a record by id, or a pasted document; fetches the link facts the checks need. */
async function verify(input: { recordId: string } | { text: string }): Promise<Outcome> {
  const facts: ServerFact[] = [];
  const { trust, source } = await trustBundle(facts);
  let recognized;
  let own: ProofResponse | 'missing' | { problems: string[] } = 'missing';
  if ('recordId' in input) {
    own = await fetchProof(input.recordId, facts, `the lineage record ${input.recordId}`);
    if (own === 'missing') throw new ViewerError(`the console has no lineage record ${input.recordId}`);
    if ('problems' in own) throw new ViewerError(`${input.recordId} cannot be verified: ${own.problems.join('; ')}`);
    recognized = recognizeDocument(own.record);
  } else {
    recognized = recognizeDocument(parseJson(input.text, 'the pasted document'));
  }
  if (!recognized.ok) throw new ViewerError(`not an artifact, a denial or a lineage record: ${recognized.problems.join('; ')}`);
  const { signed } = recognized;
  const kind = recognized.type === 'record' ? recognized.kind : recognized.type;
  const id = signed.payload.id;
  // A pasted decision: the server's record of the same id gives its chain position and revocations.
  if (!('recordId' in input)) {
    const parsedId = RecordIdSchema.safeParse(id);
    if (parsedId.success) own = await fetchProof(id, facts, `the lineage record ${id}`);
  }
  const serverRecord = own !== 'missing' && !('problems' in own) ? recordOf(own, `the lineage record ${id}`) : null;
  const record = recognized.type === 'record' ? recognized.record : serverRecord && !('problems' in serverRecord) ? serverRecord : undefined;
  const chain = own !== 'missing' && !('problems' in own) ? own : null;

  const factsForChecks: { -readonly [K in keyof StandaloneFacts]: StandaloneFacts[K] } = { record };
  if (chain) factsForChecks.revocations = chain.revocations.map((r) => ({ kind: r.kind, id: r.id, reason: r.reason, at: Date.parse(r.at) }));
  const links: Array<[string, string]> = [];
  const parentId = signed.payload.parent?.id;
  if (parentId !== undefined) {
    links.push(['parent', parentId]);
    const parent = RecordIdSchema.safeParse(parentId).success ? await fetchProof(parentId, facts, `the parent record ${parentId}`) : 'missing';
    factsForChecks.parent = parent === 'missing' || 'problems' in parent ? parent : recordOf(parent, `the parent record ${parentId}`);
  }
  if (record && record.seq > 0 && chain) {
    const previousId = chain.chain.previousId;
    if (previousId === null) factsForChecks.previous = 'missing';
    else {
      links.push(['previous', previousId]);
      const previous = await fetchProof(previousId, facts, `the previous record ${previousId} (seq ${record.seq - 1})`);
      const parsed = previous === 'missing' || 'problems' in previous ? null : recordOf(previous, 'the previous record');
      factsForChecks.previous = parsed && !('problems' in parsed) ? parsed : 'missing';
    }
  }
  if (chain?.chain.nextId) links.push(['next', chain.chain.nextId]);

  const verification = verifyStandalone(signed, kind, factsForChecks, trust, nobleEd25519, { now: Date.now() });
  const subject =
    recognized.type === 'record'
      ? `lineage record ${id} (${kind}, seq ${recognized.record.seq} of root ${recognized.record.rootId})`
      : `${kind === 'artifact' ? 'authorization artifact' : 'denial'} ${id}${record ? ` (its lineage record is seq ${record.seq} of root ${record.rootId})` : ''}`;
  return { subject, bundleSource: source, verification, facts, links, serverVerdict: chain?.verification, signed };
}

function renderOutcome(target: HTMLElement, outcome: Outcome): void {
  const { verification } = outcome;
  const failed = verification.checks.filter((c) => c.status === 'fail');
  const verdict = failed.length === 0 ? 'Every check passes (or does not apply)' : `${failed.length} check(s) failed: ${failed.map((c) => CHECK_TITLES[c.name]).join(', ')}`;
  const checks = el(
    'ul',
    { class: 'checks', id: 'proof-checks' },
    ...verification.checks.map((c) =>
      el(
        'li',
        { 'data-check': c.name, 'data-status': c.status },
        el('span', { class: `badge ${c.status === 'not-applicable' ? 'muted' : c.status}` }, c.status === 'not-applicable' ? 'not applicable' : c.status),
        el('span', { class: 'check-title' }, CHECK_TITLES[c.name]),
        c.findings.length > 0 ? el('code', {}, [...new Set(c.findings.map((f) => f.code))].join(' ')) : null,
        el('p', { class: 'check-reason' }, c.reason),
      ),
    ),
  );
  const server = outcome.serverVerdict;
  const agrees =
    server === undefined
      ? null
      : server === null
        ? 'The server verifies nothing itself (no --bundle).'
        : server.checks.map((c) => c.status).join() === verification.checks.map((c) => c.status).join()
          ? "The server's own verification (node:crypto, its trust bundle) gives the same statuses."
          : "The server's own verification (node:crypto, its trust bundle) gives different statuses: trust what this browser computed.";
  target.replaceChildren(
    el('p', { class: `verdict ${failed.length === 0 ? 'pass' : 'fail'}`, id: 'proof-verdict', 'data-ok': String(failed.length === 0) }, verdict),
    el('p', {}, 'Verified: ', el('strong', {}, outcome.subject), ', in this browser, against ', outcome.bundleSource, '.'),
    checks,
    el('h2', {}, 'Facts from the server'),
    el(
      'p',
      { class: 'muted' },
      'Signature and key window depend only on the document and the trust bundle. Binding, parent link, chain link and revocations also use these answers of the console, each parsed and checked as a claim:',
    ),
    el('ul', { class: 'facts', id: 'proof-facts' }, ...(outcome.facts.length ? outcome.facts.map((f) => el('li', {}, el('code', {}, `GET ${f.url}`), `: ${f.what}`)) : [el('li', {}, 'none')])),
    agrees ? el('p', { class: 'muted', id: 'proof-server-verdict' }, agrees) : '',
    outcome.links.length === 0 ? '' : el('p', {}, 'Open: ', ...outcome.links.flatMap(([label, id], i) => [i > 0 ? ' · ' : '', el('a', { href: `/proof?record=${encodeURIComponent(id)}` }, `${label} ${id}`)])),
    el('details', {}, el('summary', {}, 'The signed document'), el('pre', {}, JSON.stringify(outcome.signed, null, 2))),
  );
}

function renderError(target: HTMLElement, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  target.replaceChildren(el('p', { class: 'proof-error', id: 'proof-error', role: 'alert' }, message));
}

async function readInto(fileInput: HTMLInputElement, textarea: HTMLTextAreaElement): Promise<void> {
  const file = fileInput.files?.[0];
  if (!file) return;
  if (file.size > MAX_DOCUMENT_CHARS) throw new ViewerError(`${file.name} is larger than ${MAX_DOCUMENT_CHARS} bytes`);
  textarea.value = await file.text();
}

function start(): void {
  const app = byId('proof-app');
  const result = byId('proof-result');
  const form = byId<HTMLFormElement>('proof-form');
  const recordInput = byId<HTMLInputElement>('proof-record-id');
  const documentInput = byId<HTMLTextAreaElement>('proof-document');
  const bundleInput = byId<HTMLTextAreaElement>('proof-bundle');

  const run = async () => {
    result.replaceChildren(el('p', { class: 'muted' }, 'Verifying…'));
    try {
      const text = documentInput.value.trim();
      let outcome: Outcome;
      if (text !== '') outcome = await verify({ text });
      else {
        const id = recordInput.value.trim();
        const parsed = RecordIdSchema.safeParse(id);
        if (id === '') throw new ViewerError('give a record id, or paste or upload a document');
        if (!parsed.success) throw new ViewerError(`record id: ${parsed.error.issues[0]?.message}`);
        history.replaceState(null, '', `/proof?record=${encodeURIComponent(parsed.data)}`);
        outcome = await verify({ recordId: parsed.data });
      }
      renderOutcome(result, outcome);
    } catch (err) {
      renderError(result, err);
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run();
  });
  byId<HTMLInputElement>('proof-document-file').addEventListener('change', (event) => {
    readInto(event.target as HTMLInputElement, documentInput).catch((err) => renderError(result, err));
  });
  byId<HTMLInputElement>('proof-bundle-file').addEventListener('change', (event) => {
    const own = document.querySelector('input[name="bundle-source"][value="own"]') as HTMLInputElement | null;
    if (own) own.checked = true;
    readInto(event.target as HTMLInputElement, bundleInput).catch((err) => renderError(result, err));
  });
  bundleInput.addEventListener('input', () => {
    const own = document.querySelector('input[name="bundle-source"][value="own"]') as HTMLInputElement | null;
    if (own && bundleInput.value.trim() !== '') own.checked = true;
  });
  if ((app.dataset.record ?? '') !== '') void run();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
