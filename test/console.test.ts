// The console's frame: pages, errors, the bearer token and its bind rule, security headers.
import { parseConsoleOptions, ConsoleOptionsError } from '../src/console/options';
import { startTestConsole, type TestConsole } from './helpers/console';
import { uniqueDatabase } from './lineage-fixture';

describe('console frame', () => {
  let open: TestConsole;
  let guarded: TestConsole;
  const token = 'console-test-token-0123456789';

  beforeAll(async () => {
    const database = uniqueDatabase('console_frame');
    open = await startTestConsole({ database });
    guarded = await startTestConsole({ database, token });
  });
  afterAll(async () => {
    await open?.stop();
    await guarded?.stop();
  });

  test('the home page links every area and sends a strict CSP', async () => {
    const res = await fetch(`${open.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    for (const href of ['/lineage', '/proof', '/health']) expect(html).toContain(`href="${href}"`);
  });

  test('an unknown page is a 404 page, an unknown API path a JSON 404, neither a stack trace', async () => {
    const page = await fetch(`${open.url}/no/such/page?x=<script>`);
    expect(page.status).toBe(404);
    const html = await page.text();
    expect(html).toContain('nothing at /no/such/page');
    expect(html).not.toContain('<script>');
    expect(html).not.toMatch(/at \S+ \(/);
    const api = await fetch(`${open.url}/api/nothing`);
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: 'Not found', message: 'nothing at /api/nothing' });
  });

  test('with a token, a request without it or with a wrong one is refused; the right one passes', async () => {
    expect((await fetch(`${guarded.url}/`)).status).toBe(401);
    expect((await fetch(`${guarded.url}/`, { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
    expect((await fetch(`${guarded.url}/api/proof/x`)).status).toBe(401);
    expect((await fetch(`${guarded.url}/`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  test('a browser signs in once with the token and gets a session cookie that is not the token', async () => {
    const page = await fetch(`${guarded.url}/lineage`);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('action="/login"');
    const wrong = await fetch(`${guarded.url}/login`, { method: 'POST', body: new URLSearchParams({ token: `${token}x` }), redirect: 'manual' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const right = await fetch(`${guarded.url}/login`, { method: 'POST', body: new URLSearchParams({ token }), redirect: 'manual' });
    expect(right.status).toBe(303);
    const cookie = right.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^tg_console_session=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toContain(token);
    const session = cookie.split(';')[0]!;
    expect((await fetch(`${guarded.url}/`, { headers: { cookie: session } })).status).toBe(200);
    expect((await fetch(`${guarded.url}/`, { headers: { cookie: `${session.slice(0, -2)}xx` } })).status).toBe(401);
  });

  test('a non-loopback bind without a token is refused before listening', () => {
    expect(() => parseConsoleOptions({ host: '0.0.0.0' })).toThrow(ConsoleOptionsError);
    expect(() => parseConsoleOptions({ host: '0.0.0.0' })).toThrow(/requires a bearer token/);
    expect(() => parseConsoleOptions({ host: '0.0.0.0', token: 'short' })).toThrow(/at least 16/);
    expect(parseConsoleOptions({ host: '0.0.0.0', token }).host).toBe('0.0.0.0');
  });
});
