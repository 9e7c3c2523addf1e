/**
 * Nodes that upload a broken tile but report the real one's size and sha256 (the test-only
 * TESSERA_TEST_FAULT switch): one truncates, one flips a byte (same size: only the sha256 tells). Their PUT
 * URLs are signed for the reported bytes, so storage itself refuses the bodies (400 BadDigest, as S3 does):
 * nothing broken is ever stored, the API never even sees a corrupt object, the liars' attempts fail, an honest
 * node redoes those tasks, the liars are credited nothing, and the job's frames equal a local render pixel for
 * pixel. This farm takes no output inline (`inlineOutputBytes: 0`), so every output goes through the
 * storage-checked upload; corrupt-inline-output.test.ts is the same lie told inside the completion.
 */
import { describe, expect, it } from 'vitest';
import { expectLiarsCaughtAndRedone, runLiarsThenHonest, useRecordedFarm } from '../support/recorded-farm.ts';

// Liars burn attempts fast: allow enough of them that the job outlives the liars.
const f = useRecordedFarm({ leaseMs: 4000, api: { inlineOutputBytes: 0, policy: { retryBaseMs: 250, retryMaxMs: 2000, maxAttempts: 40 } } });

describe('a node that uploads a corrupt output', () => {
  it('is refused by storage (BadDigest) before the API sees it; the tasks are redone elsewhere, the liars earn nothing, the frames are right', async () => {
    // Wait until storage has refused an upload of each liar.
    const { jobId, refused, status } = await runLiarsThenHonest(f, /^STORAGE_FAILED: uploading the render output of frame \d failed: HTTP 400 [\s\S]*<Code>BadDigest<\/Code>/);
    // Storage refused the bodies before the API saw them: no completion ever met a corrupt object. Each refused
    // task was redone by the honest node, and no task was completed twice.
    expect(f.recorder.corruptOutputs).toEqual([]);
    await expectLiarsCaughtAndRedone(f, jobId, refused, status);
  });
});
