// Stands in for zod's locale index (zod/v4/locales) in workflow bundles built with GovernancePlugin
// (see configureBundler in src/plugin.ts). zod's entry points import all of its ~50 locales only to
// offer them as `z.locales`; zod's own messages use the English locale, which it imports directly.
// In a workflow bundle the rest is ~0.4 MB of code (and as much again in the inline source map) that
// every workflow worker loads and no governance code uses. `z.locales.en` stays; any other locale is
// absent from the bundle (calling one throws a TypeError).
export { default as en } from 'zod/v4/locales/en.cjs';
