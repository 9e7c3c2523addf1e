import { describe, expect, it } from 'vitest';
import { farmNodeConcurrency } from '../../infra/farm/start-farm.ts';
import { formatLogLine } from '../../infra/farm/format-log-line.ts';
import { formatFrameList } from '../../infra/cli/render-on-farm.ts';
import { parseFrameList } from '../../api/protocol/frame-list.ts';
import { rasterThreadsFor, wideRasterThreadsFor } from '../../render-node/agent/raster-threads.ts';

describe('formatLogLine (the combined farm log)', () => {
  it('turns a pino line into time, level, message and fields, leaving out what the prefix says', () => {
    const time = new Date(2026, 0, 2, 3, 4, 5, 67).getTime();
    const line = JSON.stringify({ level: 40, time, pid: 1, hostname: 'h', name: 'node:node-1', msg: 'task failed', frame: 3, reason: 'lease lost', tile: { x: 0 } });
    expect(formatLogLine(line, { loggerName: 'node:node-1' })).toBe('03:04:05.067 WARN  task failed frame=3 reason="lease lost" tile={"x":0}');
  });

  it("keeps a message's own name field, and lines that are not pino's as they are", () => {
    expect(formatLogLine(JSON.stringify({ level: 30, time: 0, msg: 'node registered', name: 'node-2' }))).toMatch(/INFO {2}node registered name=node-2$/);
    expect(formatLogLine('(node:123) Warning: something')).toBe('(node:123) Warning: something');
    expect(formatLogLine('{"not":"pino"}')).toBe('{"not":"pino"}');
  });
});

describe('formatFrameList', () => {
  it.each(['0', '0-3', '0-3,10,20-22', '1,3,5', '0-120'])('writes %s back as parseFrameList reads it', (text) => {
    expect(formatFrameList(parseFrameList(text))).toBe(text);
  });
});

describe('farmNodeConcurrency (farm up without --node-concurrency)', () => {
  it("shares the machine's cores among its nodes: at least one slot each, at most two", () => {
    expect(farmNodeConcurrency(1, 2)).toBe(2);
    expect(farmNodeConcurrency(2, 2)).toBe(1);
    expect(farmNodeConcurrency(3, 2)).toBe(1);
    expect(farmNodeConcurrency(2, 16)).toBe(2);
    expect(farmNodeConcurrency(0, 2)).toBe(2);
  });
});

describe('rasterThreadsFor (llvmpipe threads per render process when LP_NUM_THREADS is unset)', () => {
  it('draws on the render process itself once the render processes fill the cores, else keeps Mesa\'s default', () => {
    expect(rasterThreadsFor(2, 2)).toBe(0);
    expect(rasterThreadsFor(3, 2)).toBe(0);
    expect(rasterThreadsFor(1, 2)).toBeUndefined();
    expect(rasterThreadsFor(2, 16)).toBeUndefined();
  });
});

describe("wideRasterThreadsFor (a node's render process for a task that runs alone)", () => {
  it('gives a thread per core when the slots draw on one thread each, and none when there is nothing to widen', () => {
    expect(wideRasterThreadsFor(2, 0, 2)).toBe(2);
    expect(wideRasterThreadsFor(4, 0, 4)).toBe(4);
    // One core (e.g. a node's share of a machine with other nodes), one slot, or slots already on Mesa's default.
    expect(wideRasterThreadsFor(2, 0, 1)).toBeUndefined();
    expect(wideRasterThreadsFor(1, 0, 2)).toBeUndefined();
    expect(wideRasterThreadsFor(2, undefined, 16)).toBeUndefined();
    expect(wideRasterThreadsFor(2, 2, 2)).toBeUndefined();
  });
});
