// The derivation rules of chain, ancestors and ancestorKids (src/artifact/ancestry.ts,
// docs/artifact.md section 5.1), and the layout bound on ancestors.
import { ancestorKidsBelow, ancestorsBelow, chainOf, childNestingLevel, isCollapsed, nestingProblem } from '../../src/artifact/ancestry';
import { MAX_NESTING_DEPTH } from '../../src/common/constants';
import { ArtifactPayloadSchema, MAX_ANCESTORS, type ArtifactPayload } from '../../src/common/schemas';

type Grant = Pick<ArtifactPayload, 'id' | 'kid' | 'action' | 'chain' | 'ancestors' | 'ancestorKids'>;
const grant = (over: Partial<Grant>): Grant => ({ id: 'G1', kid: 'k1', action: 'workflow', chain: { id: 'G1', hop: 1 }, ancestors: [], ancestorKids: [], ...over });

describe('chain, ancestors and ancestorKids from the parent', () => {
  const g1 = grant({});
  const x1 = grant({ id: 'X1', action: 'continue-as-new', chain: { id: 'G1', hop: 1 }, ancestors: ['G1'], ancestorKids: ['k1'] });
  const g2 = grant({ id: 'G2', chain: { id: 'G1', hop: 2 }, ancestors: ['G1'], ancestorKids: ['k1'] });
  const y = grant({ id: 'Y', action: 'child-workflow', chain: { id: 'G1', hop: 2 }, ancestors: ['G1'], ancestorKids: ['k1'] });
  const h1 = grant({ id: 'H1', chain: { id: 'H1', hop: 1 }, ancestors: ['G1', 'Y'], ancestorKids: ['k1'] });

  test('a chain\'s first run grant is not collapsed; continued run grants and continue-as-new artifacts are; child-workflow artifacts never', () => {
    expect([g1, x1, g2, y, h1].map(isCollapsed)).toEqual([false, true, true, false, false]);
  });

  test('ancestors: the parent\'s, plus the parent unless it is a collapsed hop', () => {
    expect(ancestorsBelow(g1)).toEqual(['G1']); // anything in run 1
    expect(ancestorsBelow(x1)).toEqual(['G1']); // run 2's grant
    expect(ancestorsBelow(g2)).toEqual(['G1']); // anything in run 2
    expect(ancestorsBelow(y)).toEqual(['G1', 'Y']); // the child's first run grant
    expect(ancestorsBelow(h1)).toEqual(['G1', 'Y', 'H1']); // anything in the child
  });

  test('chain: a first run grant names itself at hop 1, a continued run grant is one hop further, anything else inherits', () => {
    expect(chainOf('workflow', 'G1', null)).toEqual({ id: 'G1', hop: 1 });
    expect(chainOf('workflow', 'G2', x1)).toEqual({ id: 'G1', hop: 2 });
    expect(chainOf('workflow', 'G3', grant({ id: 'X2', action: 'continue-as-new', chain: { id: 'G1', hop: 2 } }))).toEqual({ id: 'G1', hop: 3 });
    expect(chainOf('workflow', 'H1', y)).toEqual({ id: 'H1', hop: 1 });
    for (const action of ['activity', 'local-activity', 'child-workflow', 'continue-as-new', 'signal', 'update'] as const) expect(chainOf(action, 'A', g2)).toEqual({ id: 'G1', hop: 2 });
  });

  test('ancestorKids: the parent\'s set plus its kid, distinct, sorted by UTF-16 code units (not locale)', () => {
    expect(ancestorKidsBelow(g1)).toEqual(['k1']);
    expect(ancestorKidsBelow(grant({ kid: 'k1', ancestorKids: ['k1'] }))).toEqual(['k1']);
    expect(ancestorKidsBelow(grant({ kid: 'K1', ancestorKids: ['k2', 'k1'] }))).toEqual(['K1', 'k1', 'k2']);
    expect(ancestorKidsBelow(grant({ kid: 'é', ancestorKids: ['z', 'ﬁ', '😀'] }))).toEqual(['z', 'é', '😀', 'ﬁ']);
  });

  test('a thousand continue-as-new hops: ancestors and ancestorKids stay the same size', () => {
    let run: Grant = g1;
    for (let hop = 1; hop < 1_000; hop++) {
      const can = grant({ id: `X${hop}`, action: 'continue-as-new', chain: chainOf('continue-as-new', `X${hop}`, run), ancestors: ancestorsBelow(run), ancestorKids: ancestorKidsBelow(run) });
      run = grant({ id: `G${hop + 1}`, chain: chainOf('workflow', `G${hop + 1}`, can), ancestors: ancestorsBelow(can), ancestorKids: ancestorKidsBelow(can) });
    }
    expect(run).toMatchObject({ chain: { id: 'G1', hop: 1_000 }, ancestors: ['G1'], ancestorKids: ['k1'] });
  });
});

describe('nesting cap', () => {
  test(`a child-workflow artifact at level m (2m + 1 ancestors) starts level m + 1; refused beyond ${MAX_NESTING_DEPTH}`, () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `a${i}`);
    expect(childNestingLevel(ids(1))).toBe(1);
    expect(childNestingLevel(ids(2))).toBe(2); // the wrong parity counts as the deeper level
    expect(nestingProblem(ids(2 * MAX_NESTING_DEPTH - 1))).toBeNull(); // level 31 starts level 32
    expect(nestingProblem(ids(2 * MAX_NESTING_DEPTH + 1))).toBe(`the child would run at nesting level ${MAX_NESTING_DEPTH + 1}, deeper than the maximum of ${MAX_NESTING_DEPTH} levels of child workflows below the root`);
    expect(nestingProblem(ids(3), 2)).toBeNull();
    expect(nestingProblem(ids(5), 2)).toContain('nesting level 3');
  });

  test(`the layout admits at most ${MAX_ANCESTORS} ancestors (2 * ${MAX_NESTING_DEPTH} + 1)`, () => {
    expect(MAX_ANCESTORS).toBe(65);
    const field = ArtifactPayloadSchema.shape.ancestors;
    expect(field.safeParse(Array.from({ length: 65 }, (_, i) => `a${i}`)).success).toBe(true);
    expect(field.safeParse(Array.from({ length: 66 }, (_, i) => `a${i}`)).success).toBe(false);
    expect(ArtifactPayloadSchema.shape.chain.safeParse({ id: 'G1', hop: 0 }).success).toBe(false);
    expect(ArtifactPayloadSchema.shape.chain.safeParse({ id: 'G1', hop: 1, extra: true }).success).toBe(false);
  });
});
