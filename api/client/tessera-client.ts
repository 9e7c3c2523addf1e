import { resolveClientOptions, type TesseraClientOptions } from './client-options.ts';
import { createClientTransport } from './client-transport.ts';
import { createClientJobs, type ClientJobs } from './client-jobs.ts';
import { createClientProbing, type ClientProbing } from './client-probing.ts';
import { createClientSessions, type ClientSessions } from './client-sessions.ts';

// Runs wherever fetch does (Node 20+, browsers, workers, VR web apps): no node:* imports here.
// The client is composed of a transport (client-transport.ts: requests, retries, errors, timeouts), the job
// calls (client-jobs.ts: uploads, jobs, events, frames, downloads, quotes, ledger, keys), probing
// (client-probing.ts: RTTs to the farm, with their history) and sessions (client-sessions.ts).

export { CLIENT_DEFAULTS, type TesseraClientOptions } from './client-options.ts';
export { isFinished, progressOf, type JobProgress, type JobSubmitted, type WaitOptions } from './client-jobs.ts';
export type { ProbeOptions, ProbeResult } from './client-probing.ts';

export interface TesseraClient extends ClientJobs, ClientProbing, ClientSessions {
  readonly baseUrl: string;
}

/** Create a client for a Tessera API. */
export function createTesseraClient(options: TesseraClientOptions): TesseraClient {
  const transport = createClientTransport(resolveClientOptions(options));
  const client: TesseraClient = {
    baseUrl: transport.options.baseUrl,
    ...createClientJobs(transport),
    ...createClientProbing(transport),
    ...createClientSessions(transport, () => client),
  };
  return client;
}
