// Pure parts of the lineage explorer: time parsing, search cursors, the search query schema and the
// links that keep filters across pages.
import { decodeSearchCursor, encodeSearchCursor } from '../../src/lineage/queries';
import { parseInput, parseTime, searchHref, SearchQuerySchema, webUiHref } from '../../src/console/routes/explorer';
import { ConsoleInputError } from '../../src/console/server';

test('times: ISO dates and date-times, UTC without a zone, real calendar dates only', () => {
  expect(parseTime('2025-06-01')?.toISOString()).toBe('2025-06-01T00:00:00.000Z');
  expect(parseTime('2025-06-01T09:30')?.toISOString()).toBe('2025-06-01T09:30:00.000Z');
  expect(parseTime('2025-06-01T11:30:05.250+02:00')?.toISOString()).toBe('2025-06-01T09:30:05.250Z');
  expect(parseTime('2025-06-01T00:30:00-01:00')?.toISOString()).toBe('2025-06-01T01:30:00.000Z');
  for (const bad of ['2025-02-30', '2025-13-01', 'yesterday', '1748768400000', '2025-06-01T25:00', '2025-06-01T09:00+2']) expect(parseTime(bad)).toBeNull();
});

test('cursors round-trip; anything else is refused', () => {
  const cursor = { issuedAt: new Date(1_748_768_406_000), id: 'den_9fa76236acdb93f9dbe55701b5d6774d' };
  expect(decodeSearchCursor(encodeSearchCursor(cursor))).toEqual(cursor);
  for (const bad of ['', 'not-a-cursor', Buffer.from('[1,2]').toString('base64url'), Buffer.from('["x","y"]').toString('base64url'), Buffer.from('[-1,"a"]').toString('base64url')]) {
    expect(decodeSearchCursor(bad)).toBeNull();
  }
});

test('the search query: empty fields are absent, bad ones refused with what to do', () => {
  const q = parseInput(SearchQuerySchema, { principal: ' alice ', workflowId: '', decision: 'deny', from: '2025-06-01', limit: '20' }, 'bad search');
  expect(q).toMatchObject({ principal: 'alice', workflowId: undefined, decision: 'deny', limit: 20 });
  expect(q.from?.toISOString()).toBe('2025-06-01T00:00:00.000Z');
  expect(parseInput(SearchQuerySchema, {}, 'bad search').limit).toBe(50);
  expect(() => parseInput(SearchQuerySchema, { decision: 'maybe' }, 'bad search')).toThrow(new ConsoleInputError('bad search: decision must be one of allow, deny'));
  expect(() => parseInput(SearchQuerySchema, { principle: 'x' }, 'bad search')).toThrow('unknown parameter(s) "principle"');
  expect(() => parseInput(SearchQuerySchema, { principal: ['a', 'b'] }, 'bad search')).toThrow('principal must be given once, as text');
});

test('page links keep every filter and add the cursor', () => {
  const q = parseInput(SearchQuerySchema, { principal: 'a&b', target: 'charge', roots: '1', to: '2025-06-02', limit: '10' }, 'bad search');
  const cursor = encodeSearchCursor({ issuedAt: new Date(1_748_768_406_000), id: 'art_1' });
  const href = searchHref(q, cursor);
  const params = new URL(href, 'http://x').searchParams;
  expect(Object.fromEntries(params)).toEqual({ principal: 'a&b', target: 'charge', roots: '1', to: '2025-06-02T00:00:00.000Z', limit: '10', cursor });
  expect(parseInput(SearchQuerySchema, Object.fromEntries(params), 'bad search')).toMatchObject({ principal: 'a&b', limit: 10, cursor: { id: 'art_1' } });
  expect(searchHref(parseInput(SearchQuerySchema, {}, 'bad search'))).toBe('/lineage');
});

test('Web UI links encode every part, and exist only with a Web UI', () => {
  expect(webUiHref(undefined, { namespace: 'default', workflowId: 'w', runId: 'r' })).toBeNull();
  expect(webUiHref('http://127.0.0.1:8233/', { namespace: 'ns 1', workflowId: 'order/42?x', runId: 'r' })).toBe('http://127.0.0.1:8233/namespaces/ns%201/workflows/order%2F42%3Fx/r/history');
});
