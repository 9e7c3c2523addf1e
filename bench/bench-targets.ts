import type { BenchRow, TargetCheck } from './bench-result.ts';

/** The targets Tessera is held to, at 1080p PNG per frame (warm frames; Blender also with startup counted). */
export const TARGETS = { workbench: 30, chromium: 3, animation: 2, size: '1080p' } as const;

const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

/** Check the targets on every scene that has a 1080p Tessera row. */
export function checkTargets(rows: BenchRow[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const scenes = [...new Set(rows.map((r) => r.scene))];
  const at = (scene: string, system: string) => rows.find((r) => r.scene === scene && r.sizeLabel === TARGETS.size && r.system === system);
  for (const scene of scenes) {
    const t = at(scene, 'tessera');
    const tOk = t?.status === 'ok' && t.totalMs !== null;
    const compare = (name: string, required: number, others: (BenchRow | undefined)[]) => {
      const ok = others.filter((r): r is BenchRow => r?.status === 'ok' && r.totalMs !== null);
      const base = { name, scene, size: TARGETS.size, required };
      if (!t) return checks.push({ ...base, measured: null, met: null, detail: `no Tessera row at ${TARGETS.size} (add ${TARGETS.size} to --sizes)` });
      if (!tOk) return checks.push({ ...base, measured: null, met: null, detail: `Tessera did not run: ${t.reason}` });
      if (!ok.length) {
        const why = others.filter(Boolean).map((r) => `${r!.label}: ${r!.reason ?? r!.status}`).join('; ') || 'baseline not selected';
        return checks.push({ ...base, measured: null, met: null, detail: `baseline did not run (${why})` });
      }
      const best = ok.reduce((a, b) => (a.totalMs! <= b.totalMs! ? a : b));
      const measured = best.totalMs! / t.totalMs!;
      checks.push({
        ...base,
        measured,
        met: measured >= required,
        detail: `Tessera ${f(t.totalMs!)} ms vs ${best.label} ${f(best.totalMs!)} ms per frame → ${measured.toFixed(measured >= 10 ? 1 : 2)}× (need ≥ ${required}×)`,
      });
    };
    compare(`Tessera ≥ ${TARGETS.workbench}× faster than Blender Workbench, startup not counted`, TARGETS.workbench, [at(scene, 'blender-workbench')]);
    compare(`Tessera ≥ ${TARGETS.workbench}× faster than Blender Workbench, startup counted (1 process/frame)`, TARGETS.workbench, [at(scene, 'blender-workbench-cold')]);
    compare(`Tessera ≥ ${TARGETS.chromium}× faster than the faster Chromium configuration`, TARGETS.chromium, [at(scene, 'chromium-swiftshader'), at(scene, 'chromium-llvmpipe')]);
    // A whole animation: Tessera pipelined (default and fast PNG) against the faster Chromium's frames/s.
    const chromium = [at(scene, 'chromium-swiftshader'), at(scene, 'chromium-llvmpipe')].filter((r): r is BenchRow => r?.status === 'ok' && !!r.animationFps);
    const bestChromium = chromium.length ? chromium.reduce((a, b) => (a.animationFps! >= b.animationFps! ? a : b)) : undefined;
    for (const [effort, tessFps] of [['default PNG', t?.animationFps], ['fast PNG', t?.animationFpsFast]] as const) {
      const base = { name: `Tessera animation frames/s (${effort}, pipelined) ≥ ${TARGETS.animation}× the faster Chromium configuration`, scene, size: TARGETS.size, required: TARGETS.animation };
      if (!tOk || !tessFps || !bestChromium) {
        checks.push({ ...base, measured: null, met: null, detail: !tOk || !tessFps ? 'no Tessera animation figure' : 'no Chromium row' });
        continue;
      }
      const measured = tessFps / bestChromium.animationFps!;
      // What each side used of the machine: CPU per frame (all processes and threads) and cores busy on average.
      const pass = (t?.info?.animation as Record<string, { processes: number; cpuMsPerFrame: number | null; coresUsed: number | null }> | undefined)?.[effort === 'fast PNG' ? 'fast' : 'small'];
      const cpu = (ms: unknown, cores: unknown) => (typeof ms === 'number' && typeof cores === 'number' ? `, CPU ${ms.toFixed(0)} ms/frame on ${cores.toFixed(2)} cores` : '');
      const tess = `Tessera ${tessFps.toFixed(1)} fps (${pass?.processes ?? 1} render process${(pass?.processes ?? 1) > 1 ? 'es' : ''}${cpu(pass?.cpuMsPerFrame, pass?.coresUsed)})`;
      const ca = bestChromium.info?.animation as { best: string; serialFps: number | null; pipelined: { fps: number; cpuMsPerFrame?: number; coresUsed?: number } } | undefined;
      const chrome = ca
        ? `${bestChromium.label} ${bestChromium.animationFps!.toFixed(1)} fps (${ca.best}; serial ${ca.serialFps?.toFixed(1) ?? '—'}${cpu(bestChromium.info?.cpuMsPerFrame, bestChromium.info?.coresUsed)}, overlapped ${ca.pipelined.fps.toFixed(1)}${cpu(ca.pipelined.cpuMsPerFrame, ca.pipelined.coresUsed)})`
        : `${bestChromium.label} ${bestChromium.animationFps!.toFixed(1)} fps (serial${cpu(bestChromium.info?.cpuMsPerFrame, bestChromium.info?.coresUsed)})`;
      checks.push({ ...base, measured, met: measured >= TARGETS.animation, detail: `${tess} vs ${chrome} → ${measured.toFixed(2)}× (need ≥ ${TARGETS.animation}×)` });
    }
  }
  return checks;
}
