/** Hash routes (`#/jobs/ID`): the same built files work on Node and on Workers assets without rewrites. */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'render' }
  | { page: 'jobs' }
  | { page: 'job'; jobId: string }
  | { page: 'nodes' }
  | { page: 'keys' }
  | { page: 'ledger' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case 'jobs':
      return parts[1] ? { page: 'job', jobId: parts[1] } : { page: 'jobs' };
    case 'nodes':
      return { page: 'nodes' };
    case 'keys':
      return { page: 'keys' };
    case 'ledger':
      return { page: 'ledger' };
    default:
      return { page: 'render' };
  }
}

export function hrefFor(route: Route): string {
  return route.page === 'job' ? `#/jobs/${encodeURIComponent(route.jobId)}` : route.page === 'render' ? '#/' : `#/${route.page}`;
}

export function navigate(route: Route): void {
  location.hash = hrefFor(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
