// RecentDecisions (src/lineage/recent-decisions.ts): what a governance process remembers of its own decisions.
import type { SignedArtifact } from '../../src/common/schemas';
import { RecentDecisions } from '../../src/lineage/recent-decisions';

const decision = (id: string) => ({ kind: 'artifact' as const, signed: { payload: { id }, signature: 'sig' } as unknown as SignedArtifact });

test('a decision is known under the root it was written for only, until it is chained', () => {
  const recent = new RecentDecisions();
  recent.wrote('root_a', decision('art_1'));
  expect(recent.own('root_a', 'art_1')?.signed.payload.id).toBe('art_1');
  expect(recent.own('root_b', 'art_1')).toBeUndefined();
  expect(recent.isChained('root_a', 'art_1')).toBe(false);
  recent.markChained('root_a', [{ id: 'art_1', call: true }]);
  expect(recent.own('root_a', 'art_1')).toBeUndefined();
  expect(recent.isChained('root_a', 'art_1')).toBe(true);
  expect(recent.isChained('root_b', 'art_1')).toBe(false);
  expect(recent.isChainedCall('root_a', 'art_1')).toBe(true);
  expect(recent.isChainedCall('root_b', 'art_1')).toBe(false);
});

test('a chained decision that is not a per-call allow is chained, not a call outcomes may name', () => {
  const recent = new RecentDecisions();
  recent.markChained('root_a', [{ id: 'art_grant', call: false }]);
  expect(recent.isChained('root_a', 'art_grant')).toBe(true);
  expect(recent.isChainedCall('root_a', 'art_grant')).toBe(false);
});

test('both memories are bounded, oldest out first', () => {
  const recent = new RecentDecisions(2, 3);
  for (const id of ['art_1', 'art_2', 'art_3']) recent.wrote('root', decision(id));
  expect(recent.size.unchained).toBe(2);
  expect(recent.own('root', 'art_1')).toBeUndefined();
  expect(recent.own('root', 'art_3')).toBeDefined();
  recent.markChained('root', ['c1', 'c2', 'c3', 'c4'].map((id) => ({ id, call: true })));
  expect(recent.size.chained).toBe(3);
  expect(recent.isChained('root', 'c1')).toBe(false);
  expect(recent.isChained('root', 'c4')).toBe(true);
});
