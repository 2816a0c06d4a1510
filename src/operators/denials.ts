// Operator views of denials, straight from Temporal: visibility (search attributes) to find them,
// the workflow's failure to explain them.
import type { Client } from '@temporalio/client';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import { SEARCH_ATTRIBUTES } from '../common/constants';
import { findGovernanceDenial } from '../common/denial';
import { DenialDetailsSchema, type DenialDetails } from '../common/schemas';

export interface DenialRow {
  readonly workflowId: string;
  readonly runId: string;
  readonly workflowType: string;
  readonly closedAt: Date | null;
  readonly denyCode: string | null;
  readonly principal: string | null;
  readonly policyVersion: string | null;
}

export interface DenialReport extends DenialRow {
  readonly status: string;
  /** The failure sentence, as the Web UI shows it. */
  readonly message: string | null;
  readonly details: DenialDetails | null;
}

export class OperatorError extends Error {
  override readonly name = 'OperatorError';
}

const DURATION = /^(\d+)(s|m|h|d)$/;

/** `90s`, `15m`, `1h`, `7d` -> milliseconds. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new OperatorError(`invalid duration ${JSON.stringify(text)}: use a number and s, m, h or d (e.g. 1h)`);
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function keyword(attributes: Record<string, unknown> | undefined, name: string): string | null {
  const value = attributes?.[name];
  return Array.isArray(value) && typeof value[0] === 'string' ? value[0] : null;
}

/** The visibility query operators type in the Web UI, optionally bounded in time. */
export function denialsQuery(since?: Date): string {
  const base = `${SEARCH_ATTRIBUTES.decision} = "denied"`;
  // Closed since then, or still running (a non-strict workflow may carry on after a denial).
  return since ? `${base} AND (CloseTime >= "${since.toISOString()}" OR ExecutionStatus = "Running")` : base;
}

export async function listDenials(client: Client, options: { since?: Date; limit?: number } = {}): Promise<DenialRow[]> {
  const rows: DenialRow[] = [];
  for await (const wf of client.workflow.list({ query: denialsQuery(options.since) })) {
    const attributes = wf.searchAttributes as Record<string, unknown> | undefined;
    rows.push({
      workflowId: wf.workflowId,
      runId: wf.runId,
      workflowType: wf.type,
      closedAt: wf.closeTime ?? null,
      denyCode: keyword(attributes, SEARCH_ATTRIBUTES.denyCode),
      principal: keyword(attributes, SEARCH_ATTRIBUTES.principal),
      policyVersion: keyword(attributes, SEARCH_ATTRIBUTES.policyVersion),
    });
    if (rows.length >= (options.limit ?? 100)) break;
  }
  return rows;
}


export async function showDenial(client: Client, workflowId: string): Promise<DenialReport> {
  const handle = client.workflow.getHandle(workflowId);
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    throw new OperatorError(`cannot find workflow ${workflowId}: ${(err as Error).message}`);
  }
  const history = await handle.fetchHistory();
  const failed = (history.events ?? []).find((e) => e.workflowExecutionFailedEventAttributes)?.workflowExecutionFailedEventAttributes?.failure;
  // The client's own data converter (codecs, payload converter): details written through a codec
  // decode here exactly as the workflow's caller would see them.
  let error: Error | undefined;
  try {
    error = await decodeOptionalFailureToOptionalError(client.workflow.options.loadedDataConverter, failed);
  } catch (err) {
    throw new OperatorError(
      `cannot decode the failure of workflow ${workflowId}: ${(err as Error).message.split('\n')[0]} (was it written through a payload codec or converter this client lacks? the CLI takes one with --data-converter)`,
    );
  }
  const denial = findGovernanceDenial(error);
  const parsed = DenialDetailsSchema.safeParse(denial?.details?.[0]);
  const attributes = description.searchAttributes as Record<string, unknown> | undefined;
  return {
    workflowId,
    runId: description.runId,
    workflowType: description.type,
    status: description.status.name,
    closedAt: description.closeTime ?? null,
    denyCode: keyword(attributes, SEARCH_ATTRIBUTES.denyCode),
    principal: keyword(attributes, SEARCH_ATTRIBUTES.principal),
    policyVersion: keyword(attributes, SEARCH_ATTRIBUTES.policyVersion),
    message: denial?.message ?? null,
    details: parsed.success ? parsed.data : null,
  };
}
