/**
 * Heartbeats from a dedicated worker's timer: a hidden tab's own timers are throttled by the browser (Chromium
 * runs chained timers of a tab hidden for 5 minutes at most once a minute), which would let the node's leases
 * expire while it works; a dedicated worker's timers are not throttled that way. Falls back to the page's
 * setInterval where workers are unavailable.
 */
export function every(ms: number, tick: () => void): () => void {
  try {
    const worker = new Worker(new URL('./ticker-worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = () => tick();
    worker.postMessage(ms);
    return () => worker.terminate();
  } catch {
    const timer = setInterval(tick, ms);
    return () => clearInterval(timer);
  }
}
