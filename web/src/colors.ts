/** Colours for task states and for nodes (stable per node name). */
export const STATE_COLORS: Record<string, string> = {
  queued: '#3a4150',
  leased: '#d9a21b',
  done: '#3fb27f',
  failed: '#e5534b',
  cancelled: '#6e7681',
};

export function nodeColor(node: string | null): string {
  if (!node) return STATE_COLORS.queued;
  let h = 0;
  for (const ch of node) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360} 65% 55%)`;
}
