// Signing keys and their windows, from the trust bundle the console verifies against. A key
// issues (its signatures are accepted) from `notBefore` until `notAfter`; past `notAfter` every
// artifact it signs is rejected, so the warning comes `warnDays` before. Pure.
import type { TrustBundle } from '../artifact/trust-bundle';
import { formatDuration, type CheckResult } from './check';

export const DEFAULT_KEY_WARN_DAYS = 14;
const DAY_MS = 86_400_000;

/** pending: notBefore is ahead. active: accepted now. expiring: active, but notAfter is within the warning. retired: notAfter passed. */
export type KeyState = 'pending' | 'active' | 'expiring' | 'retired';

export interface KeyView {
  readonly kid: string;
  readonly notBefore: number;
  readonly notAfter: number | null;
  readonly state: KeyState;
  /** Until notAfter (ms); null for a key without an end. */
  readonly remainingMs: number | null;
  /** Decisions it signed among the recent ones the dashboard read (undefined: not counted). */
  readonly recentSignatures?: number;
}

export interface KeysDetails {
  readonly warnDays: number;
  readonly keys: readonly KeyView[];
}

function stateOf(notBefore: number, notAfter: number | null, now: number, warnMs: number): KeyState {
  if (notBefore > now) return 'pending';
  if (notAfter !== null && notAfter <= now) return 'retired';
  if (notAfter !== null && notAfter - now <= warnMs) return 'expiring';
  return 'active';
}

export function evaluateSigningKeys(
  trust: TrustBundle | undefined,
  options: { now: number; warnDays?: number; recentSignatures?: ReadonlyMap<string, number> },
): CheckResult<KeysDetails> {
  const warnDays = options.warnDays ?? DEFAULT_KEY_WARN_DAYS;
  if (!trust) return { status: 'warn', summary: 'no trust bundle given (--bundle): signing keys are not checked', details: null };
  const keys: KeyView[] = [...trust.keys.values()]
    .map((k) => ({
      kid: k.kid,
      notBefore: k.notBefore,
      notAfter: k.notAfter,
      state: stateOf(k.notBefore, k.notAfter, options.now, warnDays * DAY_MS),
      remainingMs: k.notAfter === null ? null : k.notAfter - options.now,
      ...(options.recentSignatures ? { recentSignatures: options.recentSignatures.get(k.kid) ?? 0 } : {}),
    }))
    .sort((a, b) => a.notBefore - b.notBefore || a.kid.localeCompare(b.kid));
  const details = { warnDays, keys };
  const issuing = keys.filter((k) => k.state === 'active' || k.state === 'expiring');
  if (issuing.length === 0) return { status: 'fail', summary: 'no key in the trust bundle is valid now: every artifact is rejected', details };
  // A key that signs while it ends soon: rotate (add the next key, move the workers to it, then retire this one).
  const expiring = keys.filter((k) => k.state === 'expiring');
  if (expiring.length > 0) {
    return {
      status: 'warn',
      summary: expiring.map((k) => `key ${k.kid} stops issuing in ${formatDuration(k.remainingMs ?? 0)}`).join('; ') + (issuing.length === expiring.length ? ': no other key is valid after it' : ''),
      details,
    };
  }
  return { status: 'ok', summary: `${issuing.length} key${issuing.length === 1 ? '' : 's'} valid now; none ends within ${warnDays} days`, details };
}
