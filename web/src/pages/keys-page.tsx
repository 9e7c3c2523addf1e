/** API keys (admin): list, create (the key is shown once), revoke. */
import { useEffect, useState } from 'preact/hooks';
import type { ApiKeyCreated, ApiKeyView } from '../../../api/client/index.ts';
import { ErrorBox } from '../errors.tsx';
import type { Session } from '../session.ts';

export function KeysPage({ session }: { session: Session }) {
  const [keys, setKeys] = useState<ApiKeyView[]>();
  const [created, setCreated] = useState<ApiKeyCreated>();
  const [name, setName] = useState('');
  const [role, setRole] = useState<'client' | 'admin'>('client');
  const [rpm, setRpm] = useState('');
  const [maxJobs, setMaxJobs] = useState('');
  const [error, setError] = useState<unknown>(null);
  const load = () => session.client.listKeys().then(setKeys, setError);
  useEffect(() => void load(), []);
  return (
    <>
      <section class="card">
        <h2>New key</h2>
        <form
          class="row"
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              const limits = { ...(rpm ? { requestsPerMinute: Number(rpm) } : {}), ...(maxJobs ? { maxActiveJobs: Number(maxJobs) } : {}) };
              setCreated(await session.client.createKey({ name, role, ...(Object.keys(limits).length ? { limits } : {}) }));
              setName('');
              await load();
            } catch (err) {
              setError(err);
            }
          }}
        >
          <label>
            name <input value={name} required maxLength={100} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            role
            <select value={role} onChange={(e) => setRole(e.currentTarget.value as 'client' | 'admin')}>
              <option value="client">client</option>
              <option value="admin">admin</option>
            </select>
          </label>
          <label>
            requests/min <input type="number" min={1} value={rpm} placeholder="default" onInput={(e) => setRpm(e.currentTarget.value)} />
          </label>
          <label>
            active jobs <input type="number" min={1} value={maxJobs} placeholder="default" onInput={(e) => setMaxJobs(e.currentTarget.value)} />
          </label>
          <button type="submit">Create</button>
        </form>
        {created && (
          <p class="ok" role="status">
            Key for <b>{created.name}</b> ({created.role}), shown only now: <code class="secret">{created.key}</code>
          </p>
        )}
        <ErrorBox error={error} />
      </section>
      <section class="card">
        <h2>Keys</h2>
        <table>
          <thead>
            <tr>
              <th>id</th>
              <th>name</th>
              <th>role</th>
              <th>limits</th>
              <th>created</th>
              <th>state</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {keys?.map((k) => (
              <tr>
                <td>
                  <code>{k.keyId}</code>
                </td>
                <td>{k.name}</td>
                <td>{k.role}</td>
                <td>{k.limits ? Object.entries(k.limits).map(([a, b]) => `${a} ${b}`).join(', ') : 'role defaults'}</td>
                <td>{new Date(k.createdAt).toLocaleString()}</td>
                <td>{k.revokedAt ? `revoked ${new Date(k.revokedAt).toLocaleString()}` : 'active'}</td>
                <td>
                  {!k.revokedAt && k.keyId !== 'operator' && (
                    <button class="danger" onClick={() => confirm(`Revoke ${k.name}?`) && session.client.revokeKey(k.keyId).then(load, setError)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
