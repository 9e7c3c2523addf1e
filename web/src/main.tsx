/**
 * The Tessera dashboard. Preact keeps the page small (~4 KiB of framework) while pages stay plain components;
 * every API call goes through the SDK (api/client), so shapes come from api/protocol, never retyped here.
 */
import { render } from 'preact';
import { config as zodConfig } from 'zod';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { hrefFor, useRoute, type Route } from './route.ts';
import { resumeSession, signOut, type Session } from './session.ts';
import { SignIn } from './pages/sign-in.tsx';
import { RenderPage } from './pages/render-page.tsx';
import { JobPage } from './pages/job-page.tsx';
import { JobsPage } from './pages/jobs-page.tsx';
import { NodesPage } from './pages/nodes-page.tsx';
import { KeysPage } from './pages/keys-page.tsx';
import { LedgerPage } from './pages/ledger-page.tsx';

// The page's CSP allows no eval: zod must not probe for it (the probe alone is reported as a violation).
zodConfig({ jitless: true });

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const route = useRoute();
  useEffect(() => {
    resumeSession().then((s) => setSession(s ?? null));
  }, []);
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} />;
  const links: [Route, string][] = [
    [{ page: 'render' }, 'New render'],
    [{ page: 'jobs' }, 'Jobs'],
    [{ page: 'nodes' }, 'Nodes'],
    ...(session.key.role === 'admin' ? ([[{ page: 'keys' }, 'Keys']] as [Route, string][]) : []),
    [{ page: 'ledger' }, 'Ledger'],
  ];
  const current = route.page === 'job' ? 'jobs' : route.page;
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          <span class="logo" aria-hidden="true" />
          Tessera
        </a>
        <nav aria-label="Pages">
          {links.map(([r, label]) => (
            <a href={hrefFor(r)} aria-current={r.page === current ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who" title={`key ${session.key.keyId}`}>
          {session.key.name} · {session.key.role}
        </span>
        <button
          class="quiet"
          onClick={() => {
            signOut();
            setSession(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        <Page route={route} session={session} />
      </main>
    </>
  );
}

function Page({ route, session }: { route: Route; session: Session }) {
  switch (route.page) {
    case 'render':
      return <RenderPage session={session} />;
    case 'jobs':
      return <JobsPage session={session} />;
    case 'job':
      return <JobPage session={session} jobId={route.jobId} />;
    case 'nodes':
      return <NodesPage session={session} />;
    case 'keys':
      return <KeysPage session={session} />;
    case 'ledger':
      return <LedgerPage session={session} />;
  }
}

render(<App />, document.getElementById('app')!);
