// The console's settings: one zod schema, parsed at the boundary (CLI flags or a caller's object).
import { z } from 'zod';
import { DEFAULT_GOVERNANCE_TASK_QUEUE } from '../common/constants';
import { DEFAULT_KEY_WARN_DAYS } from '../health/keys';
import { DEFAULT_POLLER_STALE_AFTER_MS } from '../health/pollers';
import { DEFAULT_MAX_STALENESS_MS } from '../identity/cache';

const LOCAL_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

export const ConsoleOptionsSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(8234),
    /** Required for any bind other than loopback: every request must send `Authorization: Bearer <token>`. */
    token: z.string().min(16, 'the console token must be at least 16 characters').optional(),
    /** MongoDB database holding lineage and identity. */
    database: z.string().min(1).default('temporal_governance'),
    /** The trust bundle records are verified against (served to the browser's proof viewer). */
    bundlePath: z.string().min(1).optional(),
    /** The Temporal namespace whose runs the console links to and inspects. */
    namespace: z.string().min(1).default('default'),
    /** The governance task queue the health page inspects. */
    governanceTaskQueue: z.string().min(1).default(DEFAULT_GOVERNANCE_TASK_QUEUE),
    /** Base URL of the Temporal Web UI, for links to runs (e.g. http://127.0.0.1:8233). */
    webUiUrl: z.string().url().optional(),
    /** Health: a governance task queue poller counts as polling when it polled within this (docs/console.md#health-dashboard). */
    pollerStaleAfterMs: z.number().int().min(1_000).default(DEFAULT_POLLER_STALE_AFTER_MS),
    /** Health: identity state older than this is stale (the deciders' maxStalenessMs). */
    identityMaxStalenessMs: z.number().int().min(100).default(DEFAULT_MAX_STALENESS_MS),
    /** Health: warn this many days before a signing key's notAfter. */
    keyWarnDays: z.number().int().min(0).default(DEFAULT_KEY_WARN_DAYS),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (!LOCAL_HOSTS.has(o.host) && o.token === undefined) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: `binding ${o.host} (not loopback) requires a bearer token (--token or TEMPORAL_GOVERNANCE_CONSOLE_TOKEN)` });
    }
  });

export type ConsoleOptionsInput = z.input<typeof ConsoleOptionsSchema>;
export type ConsoleOptions = z.output<typeof ConsoleOptionsSchema>;

export class ConsoleOptionsError extends Error {
  override readonly name = 'ConsoleOptionsError';
}

export function parseConsoleOptions(input: unknown): ConsoleOptions {
  const parsed = ConsoleOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConsoleOptionsError(parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '));
  }
  return parsed.data;
}
