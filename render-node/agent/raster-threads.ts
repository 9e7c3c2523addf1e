import { availableParallelism } from 'node:os';

/**
 * llvmpipe threads per render process when nobody said: Mesa starts one rasterizer thread per core in every
 * process, so `slots` render processes on as many cores (or fewer) run slots × cores rasterizer threads that only
 * take turns and wake each other for every draw. With at least one render process per core, each draws on its own thread (0);
 * with fewer, Mesa's default (undefined: one per core). The sum over the machine's render processes is what counts:
 * `tessera farm up` passes `--raster-threads 0` to its nodes when their slots together fill the cores. Batch render
 * processes only: a session's render process keeps Mesa's one thread per core (unless the operator set
 * LP_NUM_THREADS), since its frame time is what a person in a headset waits on.
 */
export function rasterThreadsFor(slots: number, cores = availableParallelism()): number | undefined {
  return slots >= cores ? 0 : undefined;
}

/**
 * Rasterizer threads of a node's *wide* render process, or undefined for none. When the slots' render processes
 * each draw on one thread (`slotThreads` 0, so that several busy slots do not take turns on the cores), a task
 * that runs alone on the node would leave all but one of its cores idle: such a task goes to one more render
 * process that draws on a thread per core of the node (`cores`: the cores the node's render processes may use,
 * e.g. its share of a machine shared with other nodes). None with one core or one slot (nothing to widen).
 */
export function wideRasterThreadsFor(slots: number, slotThreads: number | undefined, cores = availableParallelism()): number | undefined {
  return slotThreads === 0 && slots >= 2 && cores >= 2 ? cores : undefined;
}
