import { evalPicker, current, range } from './lab.ts';
const [a, n, ds] = [Number(process.argv[2] ?? 101), Number(process.argv[3] ?? 20), process.argv[4] ?? 'seattle-40'];
const t = performance.now();
console.log(ds, JSON.stringify(await evalPicker(ds, ds === 'seattle-40' ? 10 : 15, range(a, n), current)), ((performance.now() - t) / 1000).toFixed(1) + ' s');
