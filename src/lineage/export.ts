// Export of one root's lineage: JSON (the records), Mermaid (flowchart) or Graphviz DOT. Streams:
// records go in one at a time (seq order), lines come out one at a time.
import type { LineageRecord } from './schema';

export const EXPORT_FORMATS = ['json', 'mermaid', 'dot'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function isExportFormat(value: string): value is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(value);
}

const COLORS = {
  allow: { fill: '#d4edda', stroke: '#2e7d32' },
  deny: { fill: '#f8d7da', stroke: '#c62828' },
} as const;

/** The short label of a node: what was decided on, plus the deny code for a denial. */
export function nodeLabel(r: LineageRecord): string[] {
  return r.decision === 'deny' ? [`${r.action} ${r.target}`, `denied: ${r.denyCode ?? '?'}`] : [`${r.action} ${r.target}`];
}

// Mermaid: quoted labels take entity codes for characters that would end or break them.
const mermaidText = (s: string) => s.replace(/[#"<>]/g, (c) => ({ '#': '#35;', '"': '#quot;', '<': '#lt;', '>': '#gt;' })[c]!);
// DOT: a double-quoted ID escapes only `"` (and a trailing backslash); keep it to plain characters.
const dotString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/** Lines of the export of one root's records (given in seq order). */
export async function* exportLines(records: AsyncIterable<LineageRecord> | Iterable<LineageRecord>, format: ExportFormat): AsyncGenerator<string> {
  if (format === 'json') {
    // A JSON array of the records, one per element, as the documents are (dates as ISO strings).
    let first = true;
    yield '[';
    for await (const r of records) {
      const text = JSON.stringify(r, null, 2).replace(/^/gm, '  ');
      yield first ? text : `,\n${text}`;
      first = false;
    }
    yield ']';
    return;
  }

  // Graph formats: a node per record, an edge parent -> child. Edges come last so a parent that
  // sorts after its child (a tampered store) still gets its edge.
  const names = new Map<string, string>();
  const edges: Array<[string, string]> = [];
  if (format === 'mermaid') {
    yield 'flowchart TD';
    yield `  classDef allow fill:${COLORS.allow.fill},stroke:${COLORS.allow.stroke},color:#000`;
    yield `  classDef deny fill:${COLORS.deny.fill},stroke:${COLORS.deny.stroke},color:#000`;
  } else {
    yield 'digraph lineage {';
    yield '  rankdir=TB;';
    yield '  node [shape=box, style="rounded,filled", fontname="Helvetica"];';
  }
  for await (const r of records) {
    const name = `n${names.size}`;
    names.set(r._id, name);
    if (r.parentId !== null) edges.push([r.parentId, r._id]);
    const label = nodeLabel(r);
    if (format === 'mermaid') {
      yield `  ${name}["${label.map(mermaidText).join('<br/>')}"]:::${r.decision}`;
    } else {
      const c = COLORS[r.decision];
      yield `  ${dotString(r._id)} [label=${dotString(label.join('\n'))}, fillcolor="${c.fill}", color="${c.stroke}", tooltip=${dotString(`${r._id} seq ${r.seq}`)}];`;
    }
  }
  for (const [parent, child] of edges) {
    if (format === 'mermaid') {
      const from = names.get(parent);
      // A parent outside this root (or missing) has no node: say so instead of drawing a dangling edge.
      yield from ? `  ${from} --> ${names.get(child)}` : `  %% parent ${mermaidText(parent)} of ${mermaidText(child)} is not in this root`;
    } else {
      yield names.has(parent) ? `  ${dotString(parent)} -> ${dotString(child)};` : `  // parent ${dotString(parent)} of ${dotString(child)} is not in this root`;
    }
  }
  if (format === 'dot') yield '}';
}

/** The whole export as one string (small roots, tests). */
export async function exportRoot(records: AsyncIterable<LineageRecord> | Iterable<LineageRecord>, format: ExportFormat): Promise<string> {
  const lines: string[] = [];
  for await (const line of exportLines(records, format)) lines.push(line);
  return lines.join('\n');
}
