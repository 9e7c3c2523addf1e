import { resolveClientOptions, type TesseraClientOptions } from './client-options.ts';
import { createClientTransport } from './client-transport.ts';
import { createClientJobs, type ClientJobs } from './client-jobs.ts';
import { createClientProbing, type ClientProbing } from './client-probing.ts';

// Runs wherever fetch does (Node 20+, browsers, workers, VR web apps): no node:* imports here.
// The client is composed of a transport (client-transport.ts: requests, retries, errors, timeouts), the job
// calls (client-jobs.ts: uploads, jobs, events, frames, downloads, quotes, ledger, keys) and probing
// (client-probing.ts: RTTs to the farm, with their history).

export { CLIENT_DEFAULTS, type TesseraClientOptions } from './client-options.ts';
export { isFinished, progressOf, type JobProgress, type JobSubmitted, type WaitOptions } from './client-jobs.ts';
export type { ProbeOptions, ProbeResult } from './client-probing.ts';

export interface TesseraClient extends ClientJobs, ClientProbing {
  readonly baseUrl: string;
}

/** Create a client for a Tessera API. */
export function createTesseraClient(options: TesseraClientOptions): TesseraClient {
  const transport = createClientTransport(resolveClientOptions(options));
  return { baseUrl: transport.options.baseUrl, ...createClientJobs(transport), ...createClientProbing(transport) };
}
