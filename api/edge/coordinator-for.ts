/** The coordinator Durable Object of the farm a Worker serves (its FARM setting; one object per farm). */
import type { JobCoordinator } from './job-coordinator.ts';

export function coordinatorFor(env: Env): DurableObjectStub<JobCoordinator> {
  const ns = env.COORDINATOR as DurableObjectNamespace<JobCoordinator>;
  return ns.get(ns.idFromName(env.FARM || 'default'));
}
