/** A farm test's client calls (the harness's, with the test key) that must succeed, and a wait for a job to be done. */
import type { JobStatus } from '../../api/protocol/job-status.ts';
import { call } from './api-harness.ts';
import { waitFor } from './farm-checks.ts';

/** `url` is read at each call (a test's farm starts in its beforeAll). */
export function farmApi(url: () => string) {
  /** A call that must succeed (status < 300); its JSON answer. A Uint8Array body goes up as a GLB scene. */
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await call(url(), method, path, body instanceof Uint8Array ? { body: body as Uint8Array<ArrayBuffer>, type: 'model/gltf-binary' } : { json: body });
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  /** The job's status once done; a failed or cancelled job fails the wait at once. */
  const jobDone = (jobId: string) =>
    waitFor(`job ${jobId}`, async () => {
      const s = (await api('GET', `/v1/jobs/${jobId}`)) as JobStatus;
      if (s.state === 'failed' || s.state === 'cancelled') throw Object.assign(new Error(`job ${s.state}: ${s.error}`), { fatal: true });
      return s.state === 'done' ? s : undefined;
    });
  return { api, jobDone };
}
