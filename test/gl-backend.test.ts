/**
 * The GL backend's own surface on headless-gl (what the renderer relies on from every backend): resize to the
 * exact size asked for (the canvas three.js holds follows), refuse a size over the GL's viewport limit with a
 * RENDER_FAILED in words, read a rectangle top-down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GLBackend } from '../render-node/gl/gl-backend.ts';
import { createHeadlessGLBackend } from '../render-node/gl/headless-gl-backend.ts';

let gl: GLBackend;
beforeAll(async () => {
  gl = await createHeadlessGLBackend(16, 16);
});
afterAll(() => gl?.dispose());

describe('the headless-gl backend', () => {
  it('resizes to the exact size asked for, and the canvas follows', () => {
    gl.resize(40, 24);
    expect([gl.context.drawingBufferWidth, gl.context.drawingBufferHeight]).toEqual([40, 24]);
    expect([gl.canvas.width, gl.canvas.height]).toEqual([40, 24]);
  });

  it('refuses a framebuffer over the viewport limit, in words, and keeps its size', () => {
    const [maxW] = gl.info.maxViewport;
    gl.resize(40, 24);
    expect(() => gl.resize(maxW + 1, 8)).toThrow(expect.objectContaining({ code: 'RENDER_FAILED', message: expect.stringMatching(/framebuffer exceeds this GL's limit of \d+×\d+/) }));
    expect([gl.context.drawingBufferWidth, gl.context.drawingBufferHeight]).toEqual([40, 24]);
    expect([gl.canvas.width, gl.canvas.height]).toEqual([40, 24]);
  });

  it('reads pixels top-down from the top-left', () => {
    const c = gl.context;
    gl.resize(8, 6);
    c.bindFramebuffer(c.FRAMEBUFFER, null);
    c.disable(c.SCISSOR_TEST);
    c.clearColor(0, 0, 1, 1);
    c.clear(c.COLOR_BUFFER_BIT);
    // GL's bottom two rows red: the last two rows of what readPixels gives.
    c.enable(c.SCISSOR_TEST);
    c.scissor(0, 0, 8, 2);
    c.clearColor(1, 0, 0, 1);
    c.clear(c.COLOR_BUFFER_BIT);
    c.disable(c.SCISSOR_TEST);
    const px = gl.readPixels(0, 0, 8, 6);
    expect(px.length).toBe(8 * 6 * 4);
    const at = (x: number, y: number) => Array.from(px.subarray((y * 8 + x) * 4, (y * 8 + x) * 4 + 4));
    expect(at(0, 0)).toEqual([0, 0, 255, 255]);
    expect(at(7, 3)).toEqual([0, 0, 255, 255]);
    expect(at(0, 4)).toEqual([255, 0, 0, 255]);
    expect(at(7, 5)).toEqual([255, 0, 0, 255]);
    // A rectangle inside: rows 3..5 from the top, 2 wide, into a caller's buffer.
    const out = new Uint8Array(64);
    const part = gl.readPixels(3, 3, 2, 3, out);
    expect(part).toBe(out);
    expect(Array.from(part.subarray(0, 4))).toEqual([0, 0, 255, 255]);
    expect(Array.from(part.subarray(8, 12))).toEqual([255, 0, 0, 255]);
  });
});
