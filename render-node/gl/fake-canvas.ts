/** A canvas stand-in for three.js in Node: it stores a size and ignores DOM events. */
export function createFakeCanvas(width: number, height: number): HTMLCanvasElement {
  const canvas = {
    width,
    height,
    style: {} as Record<string, string>,
    addEventListener() {},
    removeEventListener() {},
    getContext() {
      return null;
    },
    getBoundingClientRect() {
      return { left: 0, top: 0, width: canvas.width, height: canvas.height };
    },
  };
  return canvas as unknown as HTMLCanvasElement;
}
