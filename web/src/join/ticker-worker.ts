/// <reference lib="webworker" />
/** Posts a message every N ms (N: the first message it gets); see heartbeat-ticker.ts. */
let timer: ReturnType<typeof setInterval> | undefined;
self.onmessage = (e: MessageEvent<number>) => {
  if (timer === undefined) timer = setInterval(() => self.postMessage(0), e.data);
};
