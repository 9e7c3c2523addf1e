/** The jobs submitted from this tab (the API lists no jobs per key yet), with their live state. */
import { useEffect, useState } from 'preact/hooks';
import type { JobStatus } from '../../../api/client/index.ts';
import { hrefFor, navigate } from '../route.ts';
import { recentJobs, type Session } from '../session.ts';

export function JobsPage({ session }: { session: Session }) {
  const jobs = recentJobs();
  const [open, setOpen] = useState('');
  const [states, setStates] = useState<Record<string, JobStatus | string>>({});
  useEffect(() => {
    for (const j of jobs) {
      session.client
        .getJob(j.jobId)
        .then((s) => setStates((m) => ({ ...m, [j.jobId]: s })))
        .catch((err) => setStates((m) => ({ ...m, [j.jobId]: err.code ?? 'error' })));
    }
  }, []);
  return (
    <section class="card">
      <h2>Jobs</h2>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (open.trim()) navigate({ page: 'job', jobId: open.trim() });
        }}
      >
        <label>
          open a job by id <input name="jobId" value={open} placeholder="job_…" spellcheck={false} onInput={(e) => setOpen(e.currentTarget.value)} />
        </label>
        <button type="submit" class="quiet">
          Open
        </button>
      </form>
      <h3>Submitted from this tab</h3>
      {jobs.length === 0 ? (
        <p class="muted">
          No jobs yet: <a href={hrefFor({ page: 'render' })}>start a render</a>.
        </p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>job</th>
              <th>what</th>
              <th>state</th>
              <th>frames</th>
              <th>submitted</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => {
              const s = states[j.jobId];
              return (
                <tr>
                  <td>
                    <a href={hrefFor({ page: 'job', jobId: j.jobId })}>{j.jobId}</a>
                  </td>
                  <td>{j.label}</td>
                  <td>{typeof s === 'string' ? s : s ? <span class={`badge ${s.state}`}>{s.state}</span> : '…'}</td>
                  <td>{typeof s === 'object' ? `${s.frames.done}/${s.frames.total}` : ''}</td>
                  <td>{new Date(j.at).toLocaleTimeString()}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
