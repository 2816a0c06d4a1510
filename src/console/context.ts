// What every console route reads from: the same MongoDB and Temporal the CLI uses. Routes get this
// object; they never open their own connections.
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import type { TrustBundle } from '../artifact/trust-bundle';
import type { ConsoleOptions } from './options';

export interface ConsoleContext {
  readonly options: ConsoleOptions;
  readonly db: Db;
  /** Temporal client for the console's namespace (DescribeTaskQueue, workflow links, ...). */
  readonly temporal: Client;
  /** The trust bundle, when one was given (`--bundle`); without it, verification says so. */
  readonly trust: TrustBundle | undefined;
  /** The trust bundle file as given (public keys only), served to the browser as is. */
  readonly trustDocument: unknown;
}
