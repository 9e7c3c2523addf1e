/**
 * The lie of corrupt-output.test.ts told inside the completion (node protocol 3): the tiles are small, so real
 * render nodes send them inline, and the test-only TESSERA_TEST_FAULT switch makes one node truncate them and
 * one flip a byte while both report the real tile's size and sha256. The API hashes inline bytes itself:
 * every such completion is refused (OUTPUT_CORRUPT), nothing broken is stored, the liars' attempts fail, an
 * honest node redoes those tasks, the liars are credited nothing, and the frames equal a local render.
 */
import { describe, expect, it } from 'vitest';
import { expectLiarsCaughtAndRedone, runLiarsThenHonest, useRecordedFarm } from '../support/recorded-farm.ts';

// Liars burn attempts fast: allow enough of them that the job outlives the liars.
const f = useRecordedFarm({ leaseMs: 4000, api: { policy: { retryBaseMs: 250, retryMaxMs: 2000, maxAttempts: 40 } } });

describe('a node that sends a corrupt output inline', () => {
  it('is refused by the API (OUTPUT_CORRUPT); the tasks are redone elsewhere, the liars earn nothing, the frames are right', async () => {
    // Wait until the API has refused an inline output of each liar, and both ways: the truncated bytes by their
    // length, the flipped ones by their sha256.
    const bothWays = (seen: Set<string>) => [...seen].some((e) => /inline output has \d+ bytes/.test(e)) && [...seen].some((e) => /inline output has sha256/.test(e));
    const { jobId, refused, seen, status } = await runLiarsThenHonest(f, /^OUTPUT_CORRUPT: the inline output has (\d+ bytes|sha256 [0-9a-f]{64}), but the node reported/, bothWays);
    // The truncated tile is caught by its length, the flipped one (same length) by its sha256.
    expect([...seen].some((e) => /inline output has \d+ bytes/.test(e)), [...seen].join('\n')).toBe(true);
    expect([...seen].some((e) => /inline output has sha256/.test(e)), [...seen].join('\n')).toBe(true);
    // Every refusal was logged by the API; each refused task was redone by the honest node, once.
    for (const taskId of refused.keys()) expect(f.recorder.corruptOutputs).toContain(taskId);
    await expectLiarsCaughtAndRedone(f, jobId, refused, status);
  });
});
