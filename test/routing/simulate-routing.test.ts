/** The simulator on a small synthetic internet, its CSV inputs and the `tessera sim` command. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tessera } from '../support/tessera-cli.ts';
import { describe, expect, it, vi } from 'vitest';
import { simCommand } from '../../infra/cli/sim-command.ts';
import { generateTopology, hostsCsv, KIND_TOPOLOGY, rttCsvChunks } from '../../sim/generate-topology.ts';
import { parseHostsCsv, parseRttCsv } from '../../sim/routing-csv.ts';
import { pairRtt } from '../../sim/rtt-source.ts';
import { mergeSimReports, simulateRouting } from '../../sim/simulate-routing.ts';


describe('simulateRouting', () => {
  // The synthetic internet these tests were written for (the generator's defaults are harsher now).
  const topo = generateTopology({ hosts: 600, seed: 2, ...KIND_TOPOLOGY });

  it('routes ≥ 95% of clients within 10% (or 5 ms) of optimal with 3 pings, well ahead of geo-nearest', () => {
    const r = simulateRouting(topo.hosts, topo, { nodes: 40, probes: 3, seed: 2 });
    expect(r.setup.clients).toBe(560);
    expect(r.setup.meanProbes).toBeLessThanOrEqual(3);
    expect(r.tessera.within10).toBeGreaterThanOrEqual(0.95);
    expect(r.tessera.within10).toBeGreaterThan(r.geo.within10 + 0.05);
    expect(r.tessera.p95Stretch).toBeLessThan(r.geo.p95Stretch);
    expect(r.geo.within10).toBeGreaterThan(r.random.within10);
    expect(r.oracle).toMatchObject({ within10: 1, medianStretch: 1, p95Stretch: 1 });
    expect(r.coordinateError.median).toBeLessThan(0.3);
  });

  it('finds each client’s truly nearest node quickly, agreeing with a full scan and the lower bound', () => {
    const nodesOf = Array.from({ length: 150 }, (_, i) => i * 4);
    for (let c = 1; c < 600; c += 37) {
      let best = Infinity, at = -1;
      nodesOf.forEach((h, k) => {
        const t = pairRtt(topo, c, h);
        if (h !== c && t < best) { best = t; at = k; }
        if (h !== c) expect(topo.lowerBound!(c, h)).toBeLessThanOrEqual(t);
      });
      if (nodesOf.includes(c)) continue;
      expect(topo.nearestAmong!(c, nodesOf)).toEqual({ index: at, rttMs: best });
    }
  });

  it('without lat/lon for clients (or anyone), still runs and says so', () => {
    const options = { nodes: 30, seed: 1, clients: 100, rounds: 24 };
    const clientsBlind = simulateRouting(topo.hosts, topo, { ...options, clientLocation: false });
    expect(clientsBlind.setup.locatedClients).toBe(0);
    expect(clientsBlind.setup.locatedNodes).toBe(30);
    const blind = simulateRouting(topo.hosts, topo, { ...options, useLocation: false });
    expect(blind.setup.locatedNodes).toBe(0);
    expect(blind.geo).toEqual(blind.random); // geo-nearest falls back to random without locations
    expect(blind.tessera.within10).toBeGreaterThan(blind.random.within10);
  });

  it('repeats exactly for a seed, and shards add up to the whole run', () => {
    const options = { nodes: 30, seed: 5, clients: 120, rounds: 24 };
    const whole = simulateRouting(topo.hosts, topo, options);
    expect(simulateRouting(topo.hosts, topo, options).tessera).toEqual(whole.tessera);
    const parts = [0, 1, 2].map((index) => simulateRouting(topo.hosts, topo, { ...options, shard: { index, count: 3 } }));
    const merged = mergeSimReports(parts);
    for (const m of ['tessera', 'geo', 'random', 'coordsOnly', 'oracle'] as const) expect(merged[m]).toEqual(whole[m]);
    expect(merged.setup.clients).toBe(whole.setup.clients);
  });

  it('reads the same internet back from CSV (missing pairs and unlocated hosts included)', async () => {
    const small = generateTopology({ hosts: 80, seed: 3, missing: 0.2, unlocated: 0.25 });
    const hosts = parseHostsCsv(hostsCsv(small.hosts), 'HOSTS.csv');
    expect(hosts).toEqual(small.hosts);
    expect(hosts.filter((h) => h.lat === undefined).length).toBeGreaterThan(5);
    const rtt = await parseRttCsv(rttCsvChunks(small.hosts, small, 997), hosts, 'RTT.csv');
    for (let a = 0; a < 80; a += 7) for (let b = 0; b < 80; b += 5) {
      const want = small.rtt(a, b);
      if (Number.isNaN(want)) expect(rtt.rtt(a, b)).toBeNaN();
      else expect(rtt.rtt(a, b)).toBeCloseTo(want, 2);
    }
    expect(rtt.stats.pairs).toBeGreaterThan(80 * 79 * 0.7);
    expect(pairRtt(rtt, 1, 2)).not.toBeNaN();
    const r = simulateRouting(hosts, rtt, { nodes: 20, seed: 1, rounds: 24 });
    expect(r.setup.clients + r.setup.skippedClients).toBe(60);
    expect(r.tessera.evaluated + r.tessera.unevaluated).toBe(r.setup.clients);
  });
});

describe('CSV errors name the file and line', () => {
  const hosts = 'id,name,lat,lon\na,A,1,2\nb,"B, the second",,\n';
  it.each([
    ['id,name,lat\na,A,1\n', /^H\.csv:1: expected the header "id,name,lat,lon"/],
    ['id,name,lat,lon\na,A,1,2\nb,B,1\n', /^H\.csv:3: expected 4 fields/],
    ['id,name,lat,lon\na,A,1,2\na,B,1,2\n', /^H\.csv:3: duplicate id "a"/],
    ['id,name,lat,lon\na,A,91,2\nb,B,0,0\n', /^H\.csv:2: lat "91" is not a latitude/],
    ['id,name,lat,lon\na,A,1,\nb,B,0,0\n', /^H\.csv:2: lat and lon must both be given/],
    ['id,name,lat,lon\na,A,1,2\n', /^H\.csv: needs at least 2 hosts/],
  ])('hosts %#', (text, message) => {
    expect(() => parseHostsCsv(text, 'H.csv')).toThrow(RangeError);
    expect(() => parseHostsCsv(text, 'H.csv')).toThrow(message);
  });

  it.each([
    ['src,dst\n', /^R\.csv:1: expected the header "src,dst,rtt_ms"/],
    ['src,dst,rtt_ms\na,b,10\na,c,5\n', /^R\.csv:3: dst "c" is not in the hosts file/],
    ['src,dst,rtt_ms\na,b,-1\n', /^R\.csv:2: rtt_ms "-1" is not a positive number/],
    ['src,dst,rtt_ms\r\na,b,10\r\nb,a,abc\r\n', /^R\.csv:3: rtt_ms "abc"/],
    ['src,dst,rtt_ms\na,a,3\n', /^R\.csv:2: src and dst are the same host/],
    ['src,dst,rtt_ms\n', /^R\.csv: no RTTs/],
  ])('rtt %#', async (text, message) => {
    const h = parseHostsCsv(hosts, 'H.csv');
    expect(h[1]).toEqual({ id: 'b', name: 'B, the second' });
    await expect(parseRttCsv([text], h, 'R.csv')).rejects.toThrow(message);
  });

  it('parses lines split across chunks and keeps the smaller of duplicate pairs', async () => {
    const h = parseHostsCsv(hosts, 'H.csv');
    const r = await parseRttCsv(['src,dst,r', 'tt_ms\na,b,1', '0\nb,a,12\na,b,9'], h, 'R.csv');
    expect([r.rtt(0, 1), r.rtt(1, 0), r.stats.duplicates]).toEqual([9, 12, 1]);
  });
});

/** Runs a `sim` subcommand in-process; returns stdout, or throws what the command threw. */
async function sim(...args: string[]): Promise<string> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    const command = simCommand().exitOverride();
    command.commands.forEach((c) => c.exitOverride().configureOutput({ outputError: () => {} }));
    await command.parseAsync(['node', 'sim', ...args]);
    return out;
  } finally {
    spy.mockRestore();
  }
}

describe('tessera sim', () => {
  it('gen writes hosts.csv and rtt.csv; routing reads them and prints the JSON contract', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-sim-'));
    expect(await sim('gen', '--hosts', '300', '--seed', '4', '--missing', '0.05', '--out', dir)).toMatch(/^Wrote 300 hosts and \d+ RTTs/);
    expect(readFileSync(join(dir, 'hosts.csv'), 'utf8').split('\n')[0]).toBe('id,name,lat,lon');
    const json = JSON.parse(await sim('routing', '--hosts', join(dir, 'hosts.csv'), '--rtt', join(dir, 'rtt.csv'), '--nodes', '30', '--probes', '3', '--seed', '1', '--json'));
    expect(Object.keys(json)).toEqual(['tessera', 'geo', 'random', 'coordsOnly', 'oracle']);
    for (const [name, m] of Object.entries(json) as [string, { within10: number }][]) {
      const extra = name === 'tessera' ? ['bySession'] : name === 'geo' ? ['top3'] : [];
      expect(Object.keys(m)).toEqual(['within10', 'medianStretch', 'p95Stretch', ...extra]);
    }
    expect(json.tessera.within10).toBeGreaterThan(json.geo.within10);
    // One session by default: bySession is [within10 of the first].
    expect(json.tessera.bySession).toEqual([json.tessera.within10]);
    expect(Object.keys(json.geo.top3)).toEqual(['within10', 'medianStretch', 'p95Stretch']);
    const sessions = JSON.parse(await sim('routing', '--hosts', join(dir, 'hosts.csv'), '--rtt', join(dir, 'rtt.csv'), '--nodes', '30', '--clients', '80', '--sessions', '3', '--edge-pops', '10', '--json'));
    expect(sessions.tessera.bySession).toHaveLength(3);
    expect(sessions.tessera.bySession[0]).toBe(sessions.tessera.within10);
    // A client that keeps what it measured does no worse in its third session than in its first.
    expect(sessions.tessera.bySession[2]).toBeGreaterThanOrEqual(sessions.tessera.bySession[0]);
    const table = await sim('routing', '--hosts', join(dir, 'hosts.csv'), '--rtt', join(dir, 'rtt.csv'), '--nodes', '30', '--no-location');
    expect(table).toMatch(/Tessera \(probes \+ router\)\s+\d+\.\d%/);
    expect(table).toMatch(/30 nodes \(0 located\)/);
    const blindClients = await sim('routing', '--hosts', join(dir, 'hosts.csv'), '--rtt', join(dir, 'rtt.csv'), '--nodes', '30', '--no-client-location', '--clients', '50');
    expect(blindClients).toMatch(/30 nodes \(30 located\), 50 clients \(0 located\)/);
  });

  it('reports bad input in one line naming the file and line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-sim-'));
    writeFileSync(join(dir, 'h.csv'), 'id,name,lat,lon\na,A,1,2\nb,B,3,4\nc,C,5,6\n');
    writeFileSync(join(dir, 'r.csv'), 'src,dst,rtt_ms\na,b,10\nb,x,3\n');
    await expect(sim('routing', '--hosts', join(dir, 'h.csv'), '--rtt', join(dir, 'r.csv'), '--nodes', '1')).rejects.toThrow(`${join(dir, 'r.csv')}:3: dst "x" is not in the hosts file`);
    await expect(sim('routing', '--hosts', join(dir, 'nope.csv'), '--rtt', join(dir, 'r.csv'))).rejects.toThrow(/cannot read .*nope\.csv: ENOENT/);
    await expect(sim('routing', '--hosts', join(dir, 'h.csv'), '--rtt', join(dir, 'r.csv'), '--nodes', '3')).rejects.toThrow(/--nodes must be below the number of hosts/);
    await expect(sim('gen', '--hosts', '1', '--out', dir)).rejects.toThrow(/--hosts is a whole number from 2/);
  });

  it('exits 2 with one line on stderr through the real binary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-sim-'));
    writeFileSync(join(dir, 'h.csv'), 'id,name,lat,lon\na,A,1,2\nb,B,oops,4\n');
    const { code, stderr } = await tessera('sim', 'routing', '--hosts', join(dir, 'h.csv'), '--rtt', join(dir, 'r.csv'));
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/h\.csv:3: lat "oops" is not a latitude/);
  });
});
