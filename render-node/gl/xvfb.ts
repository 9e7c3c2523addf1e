import { spawn, type ChildProcess } from 'node:child_process';
import { TesseraError } from '../../api/protocol/errors.ts';

/** A running Xvfb server that this process started. */
export interface XvfbHandle {
  display: string;
  stop(): void;
}

let shared: Promise<XvfbHandle> | undefined;

/**
 * Make sure an X display exists for headless-gl: if `DISPLAY` is unset, start Xvfb on a free display
 * (chosen by Xvfb itself through -displayfd) and set `DISPLAY`. One server serves the whole process and is
 * stopped when the process exits: headless-gl keeps its X connection for the life of the process, so a
 * server stopped and started again would kill the process at the next context.
 */
export async function acquireDisplay(): Promise<string> {
  if (process.env.DISPLAY && !shared) return process.env.DISPLAY;
  shared ??= startXvfb().catch((err) => {
    shared = undefined;
    throw err;
  });
  const handle = await shared;
  return handle.display;
}

const XVFB_WATCHDOG = `
command -v Xvfb >/dev/null || { echo "Xvfb is not installed" >&2; exit 127; }
Xvfb -displayfd 3 -screen 0 64x64x24 -nolisten tcp -nolisten unix &
x=$!
trap 'kill $x 2>/dev/null; exit 0' TERM INT HUP
while kill -0 "$1" 2>/dev/null && kill -0 $x 2>/dev/null; do sleep 0.5; done
kill $x 2>/dev/null
`;

/** Start Xvfb and wait until it reports its display number. */
export function startXvfb(timeoutMs = 10_000): Promise<XvfbHandle> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      // fd 3 receives the display number once the server accepts connections. A shell watchdog stops Xvfb
      // when this process dies in any way (SIGKILL included), so no server outlives its user.
      child = spawn('sh', ['-c', XVFB_WATCHDOG, 'xvfb-watchdog', String(process.pid)], {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
        detached: false,
      });
    } catch (cause) {
      reject(new TesseraError('GL_UNAVAILABLE', 'Could not start Xvfb; install it (apt-get install xvfb) or set DISPLAY.', { cause }));
      return;
    }
    let stderr = '';
    let out = '';
    const timer = setTimeout(() => fail(`Xvfb did not start within ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new TesseraError('GL_UNAVAILABLE', `${why}; install xvfb (apt-get install xvfb) or set DISPLAY. ${stderr.trim().slice(-300)}`));
    };
    child.on('error', (err) => fail(`Could not start Xvfb (${err.message})`));
    child.stderr!.on('data', (d) => (stderr += d));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const display = `:${m[1]}`;
      process.env.DISPLAY = display;
      const onExit = () => child.kill('SIGTERM');
      process.once('exit', onExit);
      child.unref();
      (child.stdio[3] as any).unref?.();
      (child.stderr as any).unref?.();
      resolve({
        display,
        stop() {
          process.off('exit', onExit);
          child.kill('SIGTERM');
        },
      });
    });
    child.on('exit', (code) => fail(`Xvfb exited with code ${code}`));
  });
}
