// The pure parts of the health checks: thresholds and sentences, from fixed inputs.
import { failureReason, HealthDeadlineError, withDeadline, worst } from '../../src/health/check';
import { evaluateSigningKeys } from '../../src/health/keys';
import { evaluateDecisions, evaluateLineage, evaluatePolicies, OUTBOX_FAIL_AGE_MS, OUTBOX_WARN_AGE_MS } from '../../src/health/lineage';
import { evaluatePollers } from '../../src/health/pollers';
import { governanceWorkerIdentity, identityWithoutPolicy, policyOfIdentity } from '../../src/health/worker-identity';
import type { OutboxBacklog, RecentDecision, RecentDecisions } from '../../src/lineage/queries';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const VERSION = `sha256:${'ab'.repeat(32)}`;
const OTHER_VERSION = `sha256:${'cd'.repeat(32)}`;
const ts = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

describe('worker identity', () => {
  test('announces the policy and reads it back, percent-encoding the id', () => {
    const identity = governanceWorkerIdentity('123@host', { id: 'pay ments/v1', version: VERSION });
    expect(identity).toBe(`123@host policy=pay%20ments%2Fv1@${VERSION}`);
    expect(policyOfIdentity(identity)).toEqual({ id: 'pay ments/v1', version: VERSION });
    expect(identityWithoutPolicy(identity)).toBe('123@host');
  });

  test('an identity without a well-formed announcement announces nothing', () => {
    expect(policyOfIdentity('123@host')).toBeNull();
    expect(policyOfIdentity('123@host policy=x@sha256:short')).toBeNull();
    expect(identityWithoutPolicy('123@host')).toBe('123@host');
  });
});

describe('check helpers', () => {
  test('worst status wins', () => {
    expect(worst([])).toBe('ok');
    expect(worst(['ok', 'warn', 'ok'])).toBe('warn');
    expect(worst(['warn', 'fail', 'ok'])).toBe('fail');
  });

  test('a read past its deadline rejects with HealthDeadlineError; one within passes its value', async () => {
    await expect(withDeadline(new Promise(() => undefined), 20, 'the store')).rejects.toThrow(new HealthDeadlineError('the store did not answer within 20 ms'));
    await expect(withDeadline(Promise.resolve(7), 1_000, 'x')).resolves.toBe(7);
  });

  test('failure reasons lose URI credentials and every line but the first', () => {
    expect(failureReason(new Error('cannot reach mongodb://user:secret@db:27017/x\n    at stack (file.js:1:1)'))).toBe('cannot reach mongodb://db:27017/x');
  });
});

describe('pollers', () => {
  const governance = governanceWorkerIdentity('1@a', { id: 'p', version: VERSION });
  const answer = (type: 'workflow' | 'activity', pollers: Array<{ identity: string; ageMs: number }>, backlog?: { count: number; ageMs: number }) => ({
    type,
    response: {
      pollers: pollers.map((p) => ({ identity: p.identity, lastAccessTime: ts(NOW - p.ageMs), ratePerSecond: 100_000 })),
      stats: backlog ? { approximateBacklogCount: backlog.count, approximateBacklogAge: { seconds: backlog.ageMs / 1000, nanos: 0 } } : null,
    } as never,
  });

  test('a worker polling both types within the threshold is ok', () => {
    const r = evaluatePollers('q', [answer('workflow', [{ identity: governance, ageMs: 55_000 }]), answer('activity', [{ identity: governance, ageMs: 1_000 }])], 90_000, NOW);
    expect(r.status).toBe('ok');
    expect(r.summary).toBe('1 governance worker polling q');
    expect(r.details!.workers).toEqual([{ identity: governance, policy: { id: 'p', version: VERSION }, workflowAgeMs: 55_000, activityAgeMs: 1_000, recent: true }]);
  });

  test('a queue type whose pollers are all older than the threshold fails, naming the type and the last poll', () => {
    const r = evaluatePollers('q', [answer('workflow', [{ identity: governance, ageMs: 91_000 }]), answer('activity', [{ identity: governance, ageMs: 95_000 }])], 90_000, NOW);
    expect(r.status).toBe('fail');
    // Lineage workflows poll the lineage task queue (q-lineage), authorizations the governance task queue.
    expect(r.summary).toMatch(/^no governance worker polled the workflow task queue q-lineage or the activity task queue q in the last 90 s; the last one polled 91 s ago/);
    const onlyActivity = evaluatePollers('q', [answer('workflow', [{ identity: governance, ageMs: 1 }]), answer('activity', [])], 90_000, NOW);
    expect(onlyActivity.status).toBe('fail');
    expect(onlyActivity.summary).toMatch(/polled the activity task queue q in the last 90 s: authorizations wait/);
  });

  test('authorizations waiting over 10 s in the backlog warn', () => {
    const r = evaluatePollers('q', [answer('workflow', [{ identity: governance, ageMs: 1 }]), answer('activity', [{ identity: governance, ageMs: 1 }], { count: 40, ageMs: 12_000 })], 90_000, NOW);
    expect(r.status).toBe('warn');
    expect(r.summary).toMatch(/^40 authorizations wait on q, the oldest for 12 s/);
  });
});

const decision = (ageMs: number, d: Partial<RecentDecision> = {}): RecentDecision => ({
  id: `art_${ageMs}`,
  decision: 'allow',
  denyCode: null,
  issuedAt: new Date(NOW - ageMs),
  recordedAt: new Date(NOW - ageMs + 300),
  policy: { id: 'p', version: VERSION },
  kid: 'k1',
  ...d,
});
const recent = (decisions: RecentDecision[], extra: Partial<RecentDecisions> = {}): RecentDecisions => ({ decisions, truncated: false, malformed: 0, ...extra });
const backlog = (ages: number[], deadLetters = 0): OutboxBacklog => ({
  pending: ages.length,
  deadLetters,
  sampled: ages.map((a, i) => ({ id: `art_${i}`, rootId: i % 2 ? 'art_root_b' : 'art_root_a', dueAt: new Date(NOW - a), attempts: i, issuedAt: NOW - a })),
});

describe('lineage lag and backlog', () => {
  test('nothing waiting: ok, with the lag of recent stored decisions', () => {
    const r = evaluateLineage(backlog([]), recent([decision(1_000), decision(2_000, { recordedAt: new Date(NOW - 2_000 + 900) }), decision(20 * 60_000, { recordedAt: new Date(NOW) })]), NOW);
    expect(r.status).toBe('ok');
    // The 20-minute-old decision is outside the 15-minute lag window.
    expect(r.details!.stored).toEqual({ count: 2, maxLagMs: 900, medianLagMs: 600, newestLagMs: 300 });
  });

  test('a decision waiting longer than two sweeps warns, ten minutes fails; per lineage workflow, oldest first', () => {
    expect(evaluateLineage(backlog([OUTBOX_WARN_AGE_MS - 1]), recent([]), NOW).status).toBe('ok');
    const late = evaluateLineage(backlog([OUTBOX_WARN_AGE_MS + 1_000, 500]), recent([]), NOW);
    expect(late.status).toBe('warn');
    expect(late.summary).toBe('2 decisions wait for lineage, the oldest for 61 s: lineage lags');
    expect(late.details!.outbox.roots.map((r) => [r.lineageWorkflowId, r.pending])).toEqual([
      ['temporal-governance-lineage-art_root_a', 1],
      ['temporal-governance-lineage-art_root_b', 1],
    ]);
    expect(evaluateLineage(backlog([OUTBOX_FAIL_AGE_MS + 1]), recent([]), NOW).status).toBe('fail');
  });

  test('a dead letter fails', () => {
    const r = evaluateLineage(backlog([], 2), recent([]), NOW);
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/^2 decisions are in lineage_dead_letters/);
  });
});

describe('decision rates', () => {
  test('counts per window and deny codes, most first; codes folded as in metrics', () => {
    const r = evaluateDecisions(
      recent([
        decision(60_000),
        decision(120_000, { decision: 'deny', denyCode: 'AMOUNT_OVER_LIMIT' }),
        decision(180_000, { decision: 'deny', denyCode: 'AMOUNT_OVER_LIMIT' }),
        decision(240_000, { decision: 'deny', denyCode: 'not a code' }),
        decision(30 * 60_000, { decision: 'deny', denyCode: 'NO_MATCHING_ALLOW' }),
      ]),
      NOW,
    );
    expect(r.status).toBe('ok');
    const [short, long] = r.details!.windows;
    expect(short).toMatchObject({ key: '15m', allow: 1, deny: 3, denyCodes: [{ code: 'AMOUNT_OVER_LIMIT', count: 2 }, { code: '_OTHER', count: 1 }] });
    expect(short!.perMinute).toBeCloseTo(4 / 15);
    expect(long).toMatchObject({ key: '1h', allow: 1, deny: 4, denyRatio: 0.8 });
  });

  test('exact counts replace sampled ones when the read was truncated; malformed documents warn', () => {
    const r = evaluateDecisions(recent([decision(1_000)], { truncated: true, malformed: 1 }), NOW, new Map([['15m', { allow: 20_000, deny: 5 }], ['1h', { allow: 70_000, deny: 9 }]]));
    expect(r.status).toBe('warn');
    expect(r.details!.windows.map((w) => [w.allow, w.deny])).toEqual([[20_000, 5], [70_000, 9]]);
    expect(r.details!.truncated).toBe(true);
  });
});

describe('active policy', () => {
  const pollers = (identities: string[]) =>
    evaluatePollers('q', [
      { type: 'workflow', response: { pollers: identities.map((identity) => ({ identity, lastAccessTime: ts(NOW), ratePerSecond: 1 })) } as never },
      { type: 'activity', response: { pollers: identities.map((identity) => ({ identity, lastAccessTime: ts(NOW), ratePerSecond: 1 })) } as never },
    ], 90_000, NOW).details;

  test('every worker on the policy the newest decision was made under: ok', () => {
    const r = evaluatePolicies(pollers([governanceWorkerIdentity('1@a', { id: 'p', version: VERSION })]), [decision(1_000)]);
    expect(r.status).toBe('ok');
    expect(r.details!.decided).toEqual([{ id: 'p', version: VERSION, decisions: 1, lastIssuedAt: NOW - 1_000 }]);
  });

  test('workers on different policies, a poller announcing none, or a newest decision under a policy nobody announces: warn', () => {
    expect(evaluatePolicies(pollers([governanceWorkerIdentity('1@a', { id: 'p', version: VERSION }), governanceWorkerIdentity('2@b', { id: 'p', version: OTHER_VERSION })]), []).summary).toMatch(/2 different policies/);
    expect(evaluatePolicies(pollers([governanceWorkerIdentity('1@a', { id: 'p', version: VERSION }), '9@intruder']), []).summary).toMatch(/announcing no policy.*9@intruder/);
    const stale = evaluatePolicies(pollers([governanceWorkerIdentity('1@a', { id: 'p', version: OTHER_VERSION })]), [decision(1_000)]);
    expect(stale.status).toBe('warn');
    expect(stale.summary).toMatch(/which no polling worker announces/);
    expect(evaluatePolicies(pollers([]), []).status).toBe('warn');
  });
});

describe('signing keys', () => {
  const DAY = 86_400_000;
  const bundle = (keys: Array<{ kid: string; notBefore: number; notAfter: number | null }>) => ({ keys: new Map(keys.map((k) => [k.kid, { ...k, publicKey: new Uint8Array(32) }])) });

  test('a key without an end, or ending after the warning: ok', () => {
    expect(evaluateSigningKeys(bundle([{ kid: 'k1', notBefore: NOW - DAY, notAfter: null }]), { now: NOW }).status).toBe('ok');
    expect(evaluateSigningKeys(bundle([{ kid: 'k1', notBefore: NOW - DAY, notAfter: NOW + 15 * DAY }]), { now: NOW }).status).toBe('ok');
  });

  test('a valid key ending within the warning days warns, saying when and whether another key follows', () => {
    const alone = evaluateSigningKeys(bundle([{ kid: 'k1', notBefore: NOW - DAY, notAfter: NOW + 3 * DAY }]), { now: NOW, recentSignatures: new Map([['k1', 4]]) });
    expect(alone.status).toBe('warn');
    expect(alone.summary).toBe('key k1 stops issuing in 3 d: no other key is valid after it');
    expect(alone.details!.keys[0]).toMatchObject({ state: 'expiring', recentSignatures: 4 });
    const rotated = evaluateSigningKeys(bundle([{ kid: 'k1', notBefore: NOW - DAY, notAfter: NOW + 3 * DAY }, { kid: 'k2', notBefore: NOW - 1, notAfter: null }]), { now: NOW });
    expect(rotated.summary).toBe('key k1 stops issuing in 3 d');
  });

  test('no key valid now fails; no bundle warns', () => {
    const r = evaluateSigningKeys(bundle([{ kid: 'old', notBefore: NOW - 9 * DAY, notAfter: NOW - DAY }, { kid: 'next', notBefore: NOW + DAY, notAfter: null }]), { now: NOW });
    expect(r.status).toBe('fail');
    expect(r.details!.keys.map((k) => k.state)).toEqual(['retired', 'pending']);
    expect(evaluateSigningKeys(undefined, { now: NOW }).status).toBe('warn');
  });
});
