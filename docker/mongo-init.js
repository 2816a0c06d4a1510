// Runs once, when the mongo container initializes an empty data volume. Two users, each limited to
// what its worker does in the governance database:
// - governance (governance worker, CLI): reads and writes everything there: identity, claims,
//   lineage;
// - enforcement (app workers): reads principals, API keys and revocations, and claims artifacts.
//   It can write no principal, key or revocation, so a compromised app host cannot mint identities.
const database = 'temporal_governance';
const governancePassword = process.env.MONGO_GOVERNANCE_PASSWORD;
const enforcementPassword = process.env.MONGO_ENFORCEMENT_PASSWORD;
if (!governancePassword || !enforcementPassword) throw new Error('MONGO_GOVERNANCE_PASSWORD and MONGO_ENFORCEMENT_PASSWORD must be set');
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
