// Keeps an identity snapshot fresh by re-reading it every refreshMs. Readers get the newest
// snapshot; deciding whether it is fresh enough is theirs (stalenessProblem), so an outage makes
// every decision deny once the snapshot is older than the maximum staleness.
import type { Db } from 'mongodb';
import { connectLineage, HOT_PATH_DEADLINES } from '../lineage/store';
import { loadIdentitySnapshot } from './store';
import type { IdentitySnapshot } from './snapshot';
import { observeSnapshotAge, type IdentityComponent } from '../observability/metrics';

export const DEFAULT_MAX_STALENESS_MS = 5_000;
export const DEFAULT_REFRESH_MS = 1_000;

export interface IdentitySource {
  /** The newest snapshot; waits (bounded) for a read when there is none yet or it is older than refreshMs * 2. */
  current(): Promise<IdentitySnapshot | undefined>;
  close(): Promise<void>;
  /** The MongoDB database behind the state, for the single-use registries (artifact claims). */
  db?(): Promise<Db>;
}

export interface IdentityCacheOptions {
  readonly load: () => Promise<IdentitySnapshot>;
  readonly refreshMs?: number;
  readonly now?: () => number;
  /** Called with each failed read (never with the state itself). */
  readonly onError?: (err: unknown) => void;
  /** Closed with the cache. */
  readonly onClose?: () => Promise<void>;
  /** Who decides from this state, for the `governance.identity.staleness` gauge (default 'enforcement'). */
  readonly component?: IdentityComponent;
}

export function identityCache(options: IdentityCacheOptions): IdentitySource {
  const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  const now = options.now ?? Date.now;
  let latest: IdentitySnapshot | undefined;
  let inFlight: Promise<void> | undefined;
  let closed = false;

  const refresh = (): Promise<void> => {
    inFlight ??= options
      .load()
      .then(
        (snapshot) => {
          if (!latest || snapshot.loadedAt >= latest.loadedAt) latest = snapshot;
        },
        (err: unknown) => options.onError?.(err),
      )
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  // Until a first read succeeds, the state is as old as the cache: no state at all.
  const createdAt = now();
  const timer = setInterval(() => void refresh(), refreshMs);
  timer.unref();
  void refresh();
  const unobserve = observeSnapshotAge({ component: options.component ?? 'enforcement', ageMs: () => now() - (latest?.loadedAt ?? createdAt) });

  return {
    async current() {
      if (!latest || now() - latest.loadedAt > refreshMs * 2) {
        // The background read is late (first use, or MongoDB slow): wait for one, but not forever.
        await Promise.race([refresh(), new Promise((r) => setTimeout(r, refreshMs * 2).unref())]);
      }
      return latest;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      unobserve();
      // A read in progress holds the client: let it settle (its calls have deadlines) before closing.
      await inFlight;
      await options.onClose?.();
    },
  };
}

/** An identity cache reading from MongoDB; connects lazily and reconnects after failures. */
export function mongoIdentitySource(options: {
  mongoUri: string;
  database?: string;
  refreshMs?: number;
  onError?: (err: unknown) => void;
  component?: IdentityComponent;
}): IdentitySource & { db(): Promise<Db> } {
  let connecting: Promise<{ close(): Promise<void>; db: Db }> | undefined;
  let closed = false;
  const db = async () => {
    // A closed source opens nothing again: a late caller would leave a client nobody closes.
    if (closed) throw new Error('the identity source is closed');
    connecting ??= connectLineage(options.mongoUri, options.database, HOT_PATH_DEADLINES).then(
      ({ client, db }) => ({ close: () => client.close(), db }),
      (err: unknown) => {
        connecting = undefined;
        throw err;
      },
    );
    return (await connecting).db;
  };
  const cache = identityCache({
    load: async () => loadIdentitySnapshot(await db()),
    refreshMs: options.refreshMs,
    onError: options.onError,
    component: options.component,
    onClose: async () => {
      closed = true;
      const c = connecting;
      connecting = undefined;
      if (c) await (await c.catch(() => undefined))?.close();
    },
  });
  return { ...cache, db };
}
