// Runs once, when the mongo container initializes an empty data volume: creates the user the
// governance and app workers connect as, limited to the governance database.
const password = process.env.MONGO_GOVERNANCE_PASSWORD;
if (!password) throw new Error('MONGO_GOVERNANCE_PASSWORD is not set');
db.getSiblingDB('temporal_governance').createUser({
  user: 'governance',
  pwd: password,
  roles: [{ role: 'readWrite', db: 'temporal_governance' }],
});
