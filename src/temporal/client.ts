import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';

/**
 * A client whose connection is made on first use, so the API starts (and accepts events into
 * PostgreSQL) even while Temporal is down.
 */
export function createTemporalClient(temporal: Config['temporal']): Client {
  const connection = Connection.lazy({
    address: temporal.address,
    connectTimeout: temporal.startTimeoutMs,
  });
  return new Client({ connection, namespace: temporal.namespace });
}
