/**
 * Session frame samples with scripted nodes (red-team tests of api/core/session-verification.ts): solid pictures, a
 * frame signed as the session's node signs it (its ticket secret's frame key), and a reference node that leases the
 * waiting reference render and delivers a picture of its choice.
 */
import { createHash, createHmac } from 'node:crypto';
import sharp from 'sharp';
import { expect } from 'vitest';
import { FRAME_MAC_PURPOSE, frameMacMessage } from '../../api/protocol/session-sample.ts';
import { stereoPose } from '../../api/protocol/session-pose.ts';
import type { TestNode } from './api-harness.ts';

export type Rgb = [number, number, number];
export const RED: Rgb = [200, 30, 30];
export const GREEN: Rgb = [30, 200, 30];
export const BLUE: Rgb = [30, 30, 200];
export const YELLOW: Rgb = [220, 220, 20];

/** A `width`×`eye` picture of one colour. */
export const solid = (width: number, eye: number, rgb: Rgb) => sharp({ create: { width, height: eye, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });

/** A frame of `rgb` as a session's node sends it (JPEG, both eyes of `eye`² each) with its MAC under `secret`. */
export async function signedFrame(sessionId: string, seq: number, rgb: Rgb, secret: Uint8Array, eye: number) {
  const image = new Uint8Array(await solid(2 * eye, eye, rgb).jpeg({ quality: 90 }).toBuffer());
  const eyes = stereoPose([0, 1, 3], [0, 0, 0]);
  const key = createHmac('sha256', secret).update(FRAME_MAC_PURPOSE).digest();
  const mac = createHmac('sha256', key).update(frameMacMessage({ sessionId, seq, eyes, width: 2 * eye, height: eye, format: 'jpeg', imageSha256: createHash('sha256').update(image).digest('hex') })).digest('base64url');
  return { seq, eyes, width: 2 * eye, height: eye, format: 'jpeg', image: Buffer.from(image).toString('base64'), mac };
}

/** `node` leases the waiting reference render (an `eye`² view of a pose) and delivers a picture of `rgb`. */
export async function renderReference(node: TestNode, rgb: Rgb, eye: number): Promise<void> {
  const task = await node.lease(0);
  expect(task, `${node.reg.nodeId} leases the reference`).not.toBeNull();
  expect(task!.kind).toBe('render');
  expect(task!.view.pose).toBeDefined();
  expect([task!.view.width, task!.view.height]).toEqual([eye, eye]);
  const res = await node.finish(task!, new Uint8Array(await solid(eye, eye, rgb).png().toBuffer()));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}
