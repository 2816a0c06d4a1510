// Naming a MongoDB server in a message without what its connection string may hold in secret.
import type { MongoClient as MongoClientType } from 'mongodb';

export const UNPARSEABLE_MONGO_URI = 'an invalid MongoDB URI';

/**
 * A MongoDB URI as it may appear in a message: scheme, hosts and nothing else. User name, password
 * and every option (some carry secrets, e.g. `authMechanismProperties`, `proxyPassword`) are left
 * out. Parsed by the MongoDB driver's own parser (the constructor only parses, it opens nothing).
 * A URI it rejects, or one with an unescaped `@` in its credentials (which the driver splits at
 * the first `@`, putting the rest of the password in the host list), is not described at all.
 */
export function describeMongoUri(uri: string): string {
  // Everything before the options: a second `@` there (even after a `/`) means an unescaped one in
  // the credentials, which the driver would split into a host name.
  const beforeOptions = uri.replace(/^[^:]*:\/\//, '').split('?')[0] ?? '';
  if ((beforeOptions.match(/@/g) ?? []).length > 1) return UNPARSEABLE_MONGO_URI;
  try {
    // Loaded here: a CLI command that only prints must not load the driver.
    const { MongoClient } = require('mongodb') as { MongoClient: typeof MongoClientType };
    const { options } = new MongoClient(uri);
    return options.srvHost ? `mongodb+srv://${options.srvHost}` : `mongodb://${options.hosts.map(String).join(',')}`;
  } catch {
    return UNPARSEABLE_MONGO_URI;
  }
}
