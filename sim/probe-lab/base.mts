import { evalPicker, current, range } from './lab.ts';
for (const [dir, n] of [['wondernetwork-61', 15], ['seattle-40', 10]] as const) {
  console.log(dir, JSON.stringify(await evalPicker(dir, n, range(101, 100), current)));
}
