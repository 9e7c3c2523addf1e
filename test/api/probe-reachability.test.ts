import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPrivateHost, refuseProbeUrl } from '../../api/core/probe-reachability.ts';
import { createPublicOnlyFetch } from '../../api/node/public-only-fetch.ts';
import { call, startHarness, TestNode, type Harness } from '../support/api-harness.ts';
import { expectError } from '../support/expect-error.ts';

/** A local HTTP server that records every request and answers with `handler`. */
async function target(handler: (req: IncomingMessage) => { status: number; body?: string; headers?: Record<string, string> }) {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    const a = handler(req);
    res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end(a.body ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { hits, port, url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The node's own answer to a ping: its id, and for a challenge the nonce and HMAC-SHA256(probe key, nonce). */
function nodeAnswer(req: IncomingMessage, node: { id: string; key: string }): string {
  const nonce = new URL(req.url ?? '/', 'http://x').searchParams.get('nonce');
  return JSON.stringify(nonce ? { nodeId: node.id, nonce, proof: createHmac('sha256', node.key).update(nonce).digest('hex') } : { nodeId: node.id });
}
const CHALLENGE = /^GET \/ping\?nonce=[0-9a-f]{36}$/;

const reach = (h: Harness, node: TestNode, token = node.reg.nodeToken) => call(h.url, 'POST', `/v1/nodes/${node.id}/reachability`, { json: {}, token });

describe('which probe URLs the API will fetch', () => {
  it('knows loopback, private, link-local and mapped addresses', () => {
    for (const h of ['127.0.0.1', 'localhost', 'a.localhost', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', '100.64.0.1', '[::1]', '[fd00::1]', '[fe80::1]', '[::ffff:7f00:1]', '[::ffff:10.0.0.1]']) {
      expect(isPrivateHost(h), h).toBe(true);
    }
    for (const h of ['203.0.113.7', '8.8.8.8', '172.32.0.1', 'render-1.example.com', '[2001:db8::1]']) expect(isPrivateHost(h), h).toBe(false);
  });

  it('reads IPv4 carried in IPv6 (IPv4-compatible, NAT64, 6to4) and unabbreviated IPv6 the same way', () => {
    for (const h of ['[::127.0.0.1]', '[64:ff9b::a00:1]', '[2002:c0a8:101::1]', '[0:0:0:0:0:0:0:1]', '[0000:0000:0000:0000:0000:ffff:7f00:0001]', '[fe80::1%25eth0]', '[ff02::1]']) {
      expect(isPrivateHost(h), h).toBe(true);
    }
    for (const h of ['[64:ff9b::808:808]', '[2002:cb00:7107::1]', '[::ffff:203.0.113.7]', '[2606:4700::1111]']) expect(isPrivateHost(h), h).toBe(false);
  });

  it('refuses other schemes, other paths, credentials and (unless allowed) private addresses', () => {
    const strict = { allowPrivateAddresses: false };
    expect(refuseProbeUrl('ftp://203.0.113.7/ping', strict)).toMatch(/http or https/);
    expect(refuseProbeUrl('http://203.0.113.7/admin', strict)).toMatch(/path must be \/ping/);
    expect(refuseProbeUrl('http://u:p@203.0.113.7/ping', strict)).toMatch(/credentials/);
    expect(refuseProbeUrl('http://169.254.169.254/ping', strict)).toMatch(/private address/);
    expect(refuseProbeUrl(undefined, strict)).toMatch(/no probe URL/);
    expect(refuseProbeUrl('http://203.0.113.7:7070/ping', strict)).toBeNull();
    expect(refuseProbeUrl('http://127.0.0.1:7070/ping', { allowPrivateAddresses: true })).toBeNull();
  });
});

describe('the Node API’s public-only probe fetch', () => {
  it('refuses a name if any address it resolves to is private (mixed answers, IPv6, mapped), and literal private addresses', async () => {
    const answers: Record<string, Array<{ address: string; family: number }>> = {
      'mixed.test': [{ address: '203.0.113.7', family: 4 }, { address: '10.0.0.1', family: 4 }],
      'six.test': [{ address: 'fd00::1', family: 6 }],
      'mapped.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
    };
    const publicFetch = createPublicOnlyFetch((name, callback) => callback(null, answers[name] ?? []));
    for (const url of ['http://mixed.test/ping', 'http://six.test/ping', 'http://mapped.test/ping', 'http://nothing.test/ping', 'http://127.0.0.1:9/ping', 'http://[::1]:9/ping']) {
      const err = await publicFetch(url).then(() => null, (e: unknown) => e as NodeJS.ErrnoException);
      expect(err?.code ?? (err?.cause as NodeJS.ErrnoException | undefined)?.code, url).toBe('EPRIVATEADDRESS');
    }
  });
});

describe('POST /v1/nodes/:id/reachability', () => {
  let strict: Harness;
  let lan: Harness;
  beforeAll(async () => {
    strict = await startHarness({ api: { probeCheck: { timeoutMs: 500 } } });
    lan = await startHarness({ api: { probeCheck: { timeoutMs: 500, allowPrivateAddresses: true, perNodePerMinute: 6 } } });
  });
  afterAll(async () => {
    await strict?.close();
    await lan?.close();
  });

  it('says yes when the probe URL answers the challenge as the node (its id and its HMAC of the nonce)', async () => {
    const me = { id: '', key: '' };
    const probe = await target((req) => ({ status: 200, body: nodeAnswer(req, me) }));
    const node = await TestNode.register(lan, 'reach-ok', { probeUrl: `${probe.url}/ping` });
    Object.assign(me, { id: node.id, key: node.reg.probeKey! });
    const res = await reach(lan, node);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ reachable: true, probeUrl: `${probe.url}/ping` });
    expect(probe.hits).toHaveLength(1);
    expect(probe.hits[0]).toMatch(CHALLENGE);
    await probe.close();
  });

  it('proves a forged probe: an answer as the node without its proof blocklists the node (after the full timeout)', async () => {
    for (const forge of [
      (req: IncomingMessage, id: string) => JSON.stringify({ nodeId: id }),
      (req: IncomingMessage, id: string) => JSON.stringify({ nodeId: id, nonce: new URL(req.url ?? '/', 'http://x').searchParams.get('nonce'), proof: 'ab'.repeat(32) }),
      (req: IncomingMessage) => JSON.stringify({ nodeId: null, nonce: new URL(req.url ?? '/', 'http://x').searchParams.get('nonce'), proof: createHmac('sha256', 'not-its-key').update('x').digest('hex') }),
    ]) {
      let id = '';
      const probe = await target((req) => ({ status: 200, body: forge(req, id) }));
      const node = await TestNode.register(lan, 'reach-forged', { probeUrl: `${probe.url}/ping` });
      id = node.id;
      const t0 = Date.now();
      const res = await reach(lan, node);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(480);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ reachable: false });
      expect(res.body.message).toMatch(/not this node.*blocklisted/);
      const listed = (await call(lan.url, 'GET', '/v1/nodes')).body.nodes.find((n: { nodeId: string }) => n.nodeId === node.id);
      expect(listed.reputation.blocklisted.reason).toMatch(/^forged probe: .* reachability check/);
      // A blocklisted node asks in vain.
      expectError(await reach(lan, node), 'NODE_BLOCKLISTED');
      await probe.close();
    }
  });

  it('says no, after the full timeout, to a URL nothing answers and to a server that is not this node', async () => {
    const closed = await target(() => ({ status: 200 }));
    await closed.close();
    const other = await target(() => ({ status: 200, body: JSON.stringify({ nodeId: 'node_someone_else' }) }));
    for (const url of [`http://127.0.0.1:${closed.port}/ping`, `${other.url}/ping`]) {
      const node = await TestNode.register(lan, 'reach-no', { probeUrl: url });
      const t0 = Date.now();
      const res = await reach(lan, node);
      // A refused connection and a wrong answer take as long as a timeout: the answer's timing tells nothing.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(480);
      expect(res.body).toMatchObject({ reachable: false });
      expect(res.body.message).toMatch(/firewall|NAT|--probe-url/);
      // Only yes or no: no status code or body of whatever answered.
      expect(Object.keys(res.body).sort()).toEqual(['message', 'probeUrl', 'reachable']);
    }
    expect(other.hits).toHaveLength(1);
    expect(other.hits[0]).toMatch(CHALLENGE);
    // Someone else's answer is no forgery by this node: nobody is blocklisted.
    const { nodes } = (await call(lan.url, 'GET', '/v1/nodes')).body;
    for (const n of nodes.filter((x: { card: { name: string } }) => x.card.name === 'reach-no')) expect(n.reputation.blocklisted).toBeNull();
    await other.close();
  });

  it('never fetches a private address on an API that does not allow them (SSRF to the metadata service, loopback)', async () => {
    const inside = await target(() => ({ status: 200, body: '{}' }));
    const node = await TestNode.register(strict, 'reach-ssrf', { probeUrl: `${inside.url}/ping` });
    const res = await reach(strict, node);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ reachable: false });
    expect(res.body.message).toMatch(/loopback or private address/);
    expect(inside.hits).toEqual([]);
    await inside.close();
  });

  // A DNS name is judged by the addresses it resolves to when the API connects, not by its spelling: this host's own
  // name resolves to a loopback or private address here (127.0.0.1 in /etc/hosts), as on most machines and containers.
  it('never connects to a DNS name that resolves to a private address (the host’s own name, re-pointed names)', async () => {
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    // Without a name that resolves privately there is nothing to show on this machine.
    if (!addresses.length || !addresses.every((a) => isPrivateHost(a.family === 6 ? `[${a.address}]` : a.address))) return;
    const me = { id: '', key: '' };
    const inside = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end(nodeAnswer(req, me));
    });
    const hits: string[] = [];
    await new Promise<void>((r) => inside.listen(0, addresses[0].address, () => r()));
    const port = (inside.address() as AddressInfo).port;
    const node = await TestNode.register(strict, 'reach-dns', { probeUrl: `http://${name}:${port}/ping` });
    Object.assign(me, { id: node.id, key: node.reg.probeKey! });
    const res = await reach(strict, node);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ reachable: false });
    expect(hits).toEqual([]);
    // The same name on an API that allows private addresses (a LAN farm) is reached.
    const lanNode = await TestNode.register(lan, 'reach-dns-lan', { probeUrl: `http://${name}:${port}/ping` });
    Object.assign(me, { id: lanNode.id, key: lanNode.reg.probeKey! });
    expect((await reach(lan, lanNode)).body).toMatchObject({ reachable: true });
    expect(hits).toHaveLength(1);
    await new Promise<void>((r) => inside.close(() => r()));
  });

  it('does not follow redirects', async () => {
    const elsewhere = await target(() => ({ status: 200, body: '{}' }));
    const redirecting = await target(() => ({ status: 302, headers: { location: `${elsewhere.url}/secret` } }));
    const node = await TestNode.register(lan, 'reach-redirect', { probeUrl: `${redirecting.url}/ping` });
    const res = await reach(lan, node);
    expect(res.body).toMatchObject({ reachable: false });
    expect(redirecting.hits).toHaveLength(1);
    expect(redirecting.hits[0]).toMatch(CHALLENGE);
    expect(elsewhere.hits).toEqual([]);
    await redirecting.close();
    await elsewhere.close();
  });

  it('fetches only the registered URL, for its own node, a few times a minute', async () => {
    const me = { id: '', key: '' };
    const probe = await target((req) => ({ status: 200, body: nodeAnswer(req, me) }));
    const node = await TestNode.register(lan, 'reach-rate', { probeUrl: `${probe.url}/ping` });
    Object.assign(me, { id: node.id, key: node.reg.probeKey! });
    const intruder = await TestNode.register(lan, 'reach-intruder');
    expectError(await reach(lan, node, intruder.reg.nodeToken), 'UNAUTHORIZED');
    expectError(await call(lan.url, 'POST', `/v1/nodes/${node.id}/reachability`, { json: {} }), 'UNAUTHORIZED');
    // Burst of 2, then 429 with Retry-After.
    expect((await reach(lan, node)).body.reachable).toBe(true);
    expect((await reach(lan, node)).body.reachable).toBe(true);
    const limited = await reach(lan, node);
    expectError(limited, 'RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(probe.hits).toHaveLength(2);
    await probe.close();
  });
});
