// The identity a governance worker polls with: the SDK's default (`<pid>@<host>`) plus the policy it
// decides under, so Temporal's DescribeTaskQueue shows which policy each governance worker runs.
// Anyone can poll a task queue under any identity: this is a worker's claim, shown as one; the
// signed decisions in lineage say which policy actually decided. Pure.

const SUFFIX = / policy=([^\s@]*)@(sha256:[0-9a-f]{64})$/;
/** Temporal limits identities to 1,000 characters; policy ids longer than this (encoded) are cut. */
const MAX_ENCODED_POLICY_ID = 200;

/** `<base> policy=<percent-encoded policy id>@<policy version>`. */
export function governanceWorkerIdentity(base: string, policy: { readonly id: string; readonly version: string }): string {
  return `${base} policy=${encodeURIComponent(policy.id).slice(0, MAX_ENCODED_POLICY_ID)}@${policy.version}`;
}

export interface ClaimedPolicy {
  /** The policy id as the worker announced it (cut at 200 encoded characters). */
  readonly id: string;
  readonly version: string;
}

/** The policy a poller's identity announces, or null when it announces none (not a governance worker of this kind). */
export function policyOfIdentity(identity: string): ClaimedPolicy | null {
  const match = SUFFIX.exec(identity);
  if (!match) return null;
  let id: string;
  try {
    id = decodeURIComponent(match[1]!);
  } catch {
    // cut in the middle of an escape: show it as sent
    id = match[1]!;
  }
  return { id, version: match[2]! };
}

/** The identity without its policy announcement (what the SDK would have used), for display next to the policy. */
export function identityWithoutPolicy(identity: string): string {
  return identity.replace(SUFFIX, '');
}
