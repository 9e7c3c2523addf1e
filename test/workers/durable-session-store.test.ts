/** The SessionStore contract inside workerd: every operation an RPC to the coordinator Durable Object. */
import { env } from 'cloudflare:test';
import { createDurableJobStore } from '../../api/edge/durable-job-store.ts';
import { createDurableSessionStore } from '../../api/edge/durable-session-store.ts';
import type { JobCoordinator } from '../../api/edge/job-coordinator.ts';
import { describeSessionStoreContract } from '../api/session-store-contract.ts';

const namespace = env.COORDINATOR as DurableObjectNamespace<JobCoordinator>;
let count = 0;

describeSessionStoreContract('Durable Object (workerd SQLite storage)', async () => {
  const stub = namespace.get(namespace.idFromName(`session-contract-${Date.now()}-${++count}`));
  return { sessions: createDurableSessionStore(stub), jobs: createDurableJobStore(stub), async cleanup() {} };
});
