// Runs once, when the mongo container initializes an empty data volume. Two users, each limited to
// what its worker does in the governance database:
// - governance (governance worker, CLI): reads and writes everything there: identity, claims,
//   lineage;
// - enforcement (app workers): reads principals, API keys and revocations, and claims artifacts.
//   It can write no principal, key or revocation, so a compromised app host cannot mint identities.
// - console (the governance console): reads the governance database, writes nothing.
const database = 'temporal_governance';
const governancePassword = process.env.MONGO_GOVERNANCE_PASSWORD;
const enforcementPassword = process.env.MONGO_ENFORCEMENT_PASSWORD;
const consolePassword = process.env.MONGO_CONSOLE_PASSWORD;
if (!governancePassword || !enforcementPassword || !consolePassword) throw new Error('MONGO_GOVERNANCE_PASSWORD, MONGO_ENFORCEMENT_PASSWORD and MONGO_CONSOLE_PASSWORD must be set');
const governanceDb = db.getSiblingDB(database);
governanceDb.createUser({ user: 'governance', pwd: governancePassword, roles: [{ role: 'readWrite', db: database }] });
governanceDb.createRole({
  role: 'enforcementPoint',
  privileges: [
    ...['principals', 'api_keys', 'revocations'].map((collection) => ({ resource: { db: database, collection }, actions: ['find'] })),
    { resource: { db: database, collection: 'artifact_claims' }, actions: ['find', 'insert'] },
  ],
  roles: [],
});
governanceDb.createUser({ user: 'enforcement', pwd: enforcementPassword, roles: [{ role: 'enforcementPoint', db: database }] });
governanceDb.createUser({ user: 'console', pwd: consolePassword, roles: [{ role: 'read', db: database }] });
