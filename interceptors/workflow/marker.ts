// Sandbox-safe. A string every workflow bundle holding the governance workflow interceptors
// contains (index.ts re-exports it, so bundling the interceptors bundles it): GovernancePlugin
// refuses a prebuilt bundle without it. Only interceptors/workflow/index.ts may import this in
// workflow code, or a bundle could carry the marker without the interceptors.
export const WORKFLOW_INTERCEPTORS_MARKER = 'temporal-governance/workflow-interceptors@1';
