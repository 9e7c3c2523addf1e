import { useState } from 'preact/hooks';
import { ErrorBox } from '../errors.tsx';
import { signIn, type Session } from '../session.ts';

/** Sign in with an API key (kept in this tab's session storage only). */
export function SignIn({ onSignedIn }: { onSignedIn(s: Session): void }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <main class="sign-in">
      <form
        class="card"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            onSignedIn(await signIn(key));
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>
          <span class="logo" aria-hidden="true" /> Tessera
        </h1>
        <p>Sign in with an API key. It stays in this tab only and is forgotten when the tab closes.</p>
        <label>
          API key
          <input
            type="password"
            name="apiKey"
            autocomplete="off"
            spellcheck={false}
            placeholder="tsk_…"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            required
            autofocus
          />
        </label>
        <button type="submit" disabled={busy || !key.trim()}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <ErrorBox error={error} />
        <p class="hint">
          <code>tessera farm up</code> prints an admin key (<code>export TESSERA_API_KEY=…</code>); admins make more with{' '}
          <code>tessera keys create</code>.
        </p>
      </form>
    </main>
  );
}
