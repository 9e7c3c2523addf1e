/**
 * The signed-in API key: kept in this tab's sessionStorage only (gone when the tab closes), sent as a bearer
 * header by the SDK, never put in a URL or logged.
 */
import { createTesseraClient, type KeyIdentity, type TesseraClient } from '../../api/client/index.ts';

const STORAGE_KEY = 'tessera.apiKey';

export interface Session {
  client: TesseraClient;
  key: KeyIdentity;
}

/** A client for the API that served this page. */
export function clientFor(apiKey: string | undefined): TesseraClient {
  return createTesseraClient({ baseUrl: location.origin, apiKey });
}

/** Check the key with the API and keep it for this tab. Throws the API's error (e.g. UNAUTHORIZED). */
export async function signIn(apiKey: string): Promise<Session> {
  const client = clientFor(apiKey.trim());
  const key = await client.whoAmI();
  sessionStorage.setItem(STORAGE_KEY, apiKey.trim());
  return { client, key };
}

/** The session kept in this tab, if its key still works. */
export async function resumeSession(): Promise<Session | undefined> {
  const stored = sessionStorage.getItem(STORAGE_KEY);
  if (!stored) return undefined;
  try {
    return await signIn(stored);
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
    return undefined;
  }
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

const RECENT_JOBS = 'tessera.recentJobs';

/** Jobs submitted from this tab (the API has no job listing for a key yet), newest first. */
export function recentJobs(): { jobId: string; at: number; label: string }[] {
  try {
    return JSON.parse(sessionStorage.getItem(RECENT_JOBS) ?? '[]');
  } catch {
    return [];
  }
}

export function rememberJob(jobId: string, label: string): void {
  const jobs = [{ jobId, at: Date.now(), label }, ...recentJobs().filter((j) => j.jobId !== jobId)].slice(0, 50);
  sessionStorage.setItem(RECENT_JOBS, JSON.stringify(jobs));
}
