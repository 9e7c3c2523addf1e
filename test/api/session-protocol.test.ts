import { describe, expect, it } from 'vitest';
import { parseClientMessage, SESSION_CLOSE, SessionRequest } from '../../api/protocol/session.ts';
import { decodeFrame, encodeFrame } from '../../api/protocol/session-frame.ts';
import { checkTicket, deriveNodeTicketSecret, mintTicket, TicketLedger } from '../../api/protocol/session-ticket.ts';

const I = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const P = [1.2, 0, 0, 0, 0, 1.2, 0, 0, 0, 0, -1.0002, -1, 0, 0, -0.020002, 0];
const pose = (over: Record<string, unknown> = {}) => JSON.stringify({ type: 'pose', seq: 1, sentAt: 5, eyes: [{ view: I, projection: P }, { view: I, projection: P }], ...over });
const parse = (text: string) => parseClientMessage(text, text.length);

describe('session messages', () => {
  it('accepts a well-formed pose and ping', () => {
    expect(parse(pose())).toMatchObject({ ok: true, message: { type: 'pose', seq: 1 } });
    expect(parse(JSON.stringify({ type: 'ping', id: 3, sentAt: 1 }))).toMatchObject({ ok: true, message: { type: 'ping', id: 3 } });
  });

  it('refuses NaN (null in JSON), huge and non-invertible matrices with BAD_POSE', () => {
    const nan = JSON.stringify({ type: 'pose', seq: 1, sentAt: 5, eyes: [{ view: [NaN, ...I.slice(1)], projection: P }] });
    expect(parse(nan)).toMatchObject({ ok: false, code: SESSION_CLOSE.BAD_POSE });
    expect(parse(pose({ eyes: [{ view: I.map(() => 0), projection: P }] }))).toMatchObject({ ok: false, code: SESSION_CLOSE.BAD_POSE, reason: expect.stringContaining('not invertible') });
    expect(parse(pose({ eyes: [{ view: I.map((v) => v * 1e9), projection: P }] }))).toMatchObject({ ok: false, code: SESSION_CLOSE.BAD_POSE });
    // A rank-deficient projection (two equal rows).
    const flat = [...P];
    flat[1] = flat[0]; flat[5] = flat[4]; flat[9] = flat[8]; flat[13] = flat[12];
    expect(parse(pose({ eyes: [{ view: I, projection: flat }] }))).toMatchObject({ ok: false, code: SESSION_CLOSE.BAD_POSE });
  });

  it('refuses unknown fields, unknown types, non-JSON and oversized messages', () => {
    expect(parse(pose({ extra: 1 }))).toMatchObject({ ok: false, code: SESSION_CLOSE.BAD_MESSAGE });
    expect(parse(JSON.stringify({ type: 'render-everything' }))).toMatchObject({ ok: false, code: SESSION_CLOSE.BAD_MESSAGE });
    expect(parse('{nope')).toMatchObject({ ok: false, code: SESSION_CLOSE.BAD_MESSAGE });
    expect(parse(pose({ eyes: [{ view: I, projection: P }, { view: I, projection: P }, { view: I, projection: P }] }))).toMatchObject({ ok: false, code: SESSION_CLOSE.BAD_MESSAGE });
    const big = 'x'.repeat(20_000);
    expect(parseClientMessage(big, big.length)).toMatchObject({ ok: false, code: SESSION_CLOSE.TOO_BIG });
  });

  it('bounds the session request', () => {
    const sceneId = 'a'.repeat(64);
    expect(SessionRequest.parse({ sceneId }).eye).toEqual({ width: 512, height: 512 });
    expect(SessionRequest.parse({ sceneId, eye: '1024x768' }).eye).toEqual({ width: 1024, height: 768 });
    expect(SessionRequest.safeParse({ sceneId, eye: '4096x512' }).success).toBe(false);
    expect(SessionRequest.safeParse({ sceneId, bogus: true }).success).toBe(false);
  });
});

describe('frame messages', () => {
  it('round-trips header, image and depth bytes', () => {
    const image = new Uint8Array([1, 2, 3, 4, 5]);
    const depth = new Uint8Array([9, 8]);
    const msg = encodeFrame({ seq: 7, sentAt: 1.5, eyes: [{ view: I, projection: P }], timings: { queueMs: 1, renderMs: 2, encodeMs: 3 }, layout: 'side-by-side', width: 2, height: 1, format: 'jpeg', dropped: 0 }, image, depth);
    const f = decodeFrame(msg);
    expect(f.header).toMatchObject({ v: 1, seq: 7, imageBytes: 5, depth: { encoding: 'rg8-mm-png', bytes: 2 } });
    expect([...f.image]).toEqual([...image]);
    expect([...f.depth!]).toEqual([...depth]);
  });

  it('refuses messages whose lengths do not add up', () => {
    const msg = encodeFrame({ seq: 1, sentAt: 0, eyes: [{ view: I, projection: P }], timings: { queueMs: 0, renderMs: 0, encodeMs: 0 }, layout: 'side-by-side', width: 1, height: 1, format: 'jpeg', dropped: 0 }, new Uint8Array(3));
    expect(() => decodeFrame(msg.subarray(0, msg.length - 1))).toThrow(RangeError);
    expect(() => decodeFrame(new Uint8Array([255, 255, 255, 255, 1]))).toThrow(RangeError);
  });
});

describe('session tickets', () => {
  const apiKey = new Uint8Array(32).fill(7);
  it('a ticket is accepted once, by its node only, before it expires', async () => {
    const a = await deriveNodeTicketSecret(apiKey, 'node_a');
    const b = await deriveNodeTicketSecret(apiKey, 'node_b');
    const ticket = await mintTicket(a, { sid: 'ses_1', nid: 'node_a', exp: 10_000 });
    const ok = await checkTicket(ticket, a, 'node_a', 5_000);
    expect(ok).toMatchObject({ ok: true, payload: { sid: 'ses_1' } });
    expect(await checkTicket(ticket, b, 'node_b', 5_000)).toEqual({ ok: false, problem: 'bad-signature' });
    expect(await checkTicket(ticket, a, 'node_a', 10_000)).toEqual({ ok: false, problem: 'expired' });
    const ledger = new TicketLedger();
    if (!ok.ok) throw new Error('unreachable');
    expect(ledger.use(ok.payload, 5_000)).toBe(true);
    expect(ledger.use(ok.payload, 5_001)).toBe(false);
  });

  it('node A cannot mint a ticket node B accepts, even naming B', async () => {
    const a = await deriveNodeTicketSecret(apiKey, 'node_a');
    const b = await deriveNodeTicketSecret(apiKey, 'node_b');
    const forged = await mintTicket(a, { sid: 'ses_x', nid: 'node_b', exp: 10_000 });
    expect(await checkTicket(forged, b, 'node_b', 1)).toEqual({ ok: false, problem: 'bad-signature' });
    // A's own secret with B's id inside: A refuses it as another node's.
    expect(await checkTicket(forged, a, 'node_a', 1)).toEqual({ ok: false, problem: 'wrong-node' });
    expect(await checkTicket('garbage', a, 'node_a', 1)).toEqual({ ok: false, problem: 'malformed' });
    const [body] = forged.split('.');
    expect(await checkTicket(`${body}.AAAA`, b, 'node_b', 1)).toEqual({ ok: false, problem: 'bad-signature' });
  });
});
