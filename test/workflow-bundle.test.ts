// What GovernancePlugin puts into a workflow bundle. Where zod is loaded as CommonJS (compiled
// workflow code, the installed package's dist/), zod's entry imports all its ~50 locales; the plugin
// swaps its locale index for a stand-in holding the English one only
// (interceptors/workflow/zod-locales.ts). Every governed path still runs and replays with it
// (test/replay.test.ts; test/pack.test.ts runs a governed workflow from the installed package).
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { GovernancePlugin } from '../src/plugin';
import { fixtures, workflowsPath } from './helpers/harness';

const logger = new DefaultLogger('WARN');
const cjsWorkflows = join(fixtures, 'cjs-zod-workflows.js');
const bundledModules = (code: string) => [...code.matchAll(/^\/\*\*\*\/ "([^"]+)"$/gm)].map((m) => m[1]!);
const zodLocales = (modules: string[]) => modules.filter((m) => /zod\/v4\/locales\//.test(m));

test('with the plugin, a bundle loading zod as CommonJS carries zod’s English locale only', async () => {
  const modules = bundledModules((await bundleWorkflowCode({ workflowsPath: cjsWorkflows, logger, plugins: [new GovernancePlugin()] })).code);
  expect(modules.some((m) => m.endsWith('interceptors/workflow/zod-locales.ts'))).toBe(true);
  // Only English: en.cjs for the CommonJS zod; run from TypeScript sources, the interceptors load
  // zod's ES module build too, which brings its own en.js (and drops the unused index by itself).
  expect(zodLocales(modules)).toContainEqual(expect.stringMatching(/zod\/v4\/locales\/en\.cjs$/));
  expect(zodLocales(modules).filter((m) => !/zod\/v4\/locales\/en\.c?js$/.test(m))).toEqual([]);
});

test('without the plugin the bundler is left alone: zod keeps its whole locale index', async () => {
  const modules = bundledModules((await bundleWorkflowCode({ workflowsPath: cjsWorkflows, logger })).code);
  expect(modules.some((m) => m.endsWith('interceptors/workflow/zod-locales.ts'))).toBe(false);
  expect(zodLocales(modules).length).toBeGreaterThan(40);
});

test('the governed fixture bundle (TypeScript, zod as ES modules) carries the interceptors and no locale but English', async () => {
  const modules = bundledModules((await bundleWorkflowCode({ workflowsPath, logger, plugins: [new GovernancePlugin()] })).code);
  expect(modules.some((m) => m.endsWith('interceptors/workflow/index.ts'))).toBe(true);
  expect(zodLocales(modules)).toEqual([expect.stringMatching(/zod\/v4\/locales\/en\.c?js$/)]);
});
