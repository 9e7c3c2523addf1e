/**
 * Red team: session URLs. A node's card advertises where clients open session WebSockets, and the API hands that URL
 * to clients' browsers as is; the card took any ws:// or wss:// URL, so a node could point every client it won at any
 * address (a router's admin socket, a service on the client's own network, another server). Now the session URL must
 * name the host of the node's probe URL (the address clients and the API measure the node at), any port, ws/wss
 * only, with no credentials, query or fragment; the card is refused at registration (400 BAD_REQUEST naming
 * sessionUrl). Cards are sent only at registration (heartbeats carry none), so that is the one place to check. An
 * honest node's card, as the render node builds it from its probe server, still registers and is placed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProbeServer } from '../../render-node/agent/probe-server.ts';
import { call, nodeCard, startHarness, type Harness } from '../support/api-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const register = (card: object) => call(h.url, 'POST', '/v1/nodes', { json: { ...nodeCard('session-node'), sessionSlots: 2, ...card } });

describe('a node advertising a session URL', () => {
  it('is refused when the URL points anywhere but its probe URL\'s host, or carries credentials, a query or a fragment', async () => {
    const probeUrl = 'http://203.0.113.7:8080/ping';
    for (const [what, card] of [
      ['another host', { probeUrl, sessionUrl: 'ws://198.51.100.9:8080/' }],
      ['the client\'s own router', { probeUrl, sessionUrl: 'ws://192.168.1.1/' }],
      ['a DNS name, not the probe URL\'s host', { probeUrl, sessionUrl: 'wss://evil.example/' }],
      ['no probe URL to bind it to', { sessionUrl: 'ws://203.0.113.7:8080/' }],
      ['credentials', { probeUrl, sessionUrl: 'ws://user:pw@203.0.113.7:8080/' }],
      ['a query', { probeUrl, sessionUrl: 'ws://203.0.113.7:8080/?to=elsewhere' }],
      ['a fragment', { probeUrl, sessionUrl: 'ws://203.0.113.7:8080/#x' }],
      ['http, not ws', { probeUrl, sessionUrl: 'http://203.0.113.7:8080/' }],
    ] as const) {
      const res = await register(card);
      expect(res.status, what).toBe(400);
      expect(res.body.code, what).toBe('BAD_REQUEST');
      expect(res.body.message, what).toMatch(/sessionUrl/);
    }
  });

  it('registers when the URL names the probe URL\'s host (any port, ws or wss), and as the render node builds its card', async () => {
    for (const card of [
      { probeUrl: 'http://203.0.113.7:8080/ping', sessionUrl: 'ws://203.0.113.7:8080' },
      { probeUrl: 'https://node.example/ping', sessionUrl: 'wss://node.example:8443/sessions/' },
    ]) {
      const res = await register(card);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.nodeId).toEqual(expect.any(String));
    }
    // The pair a render node advertises: its probe server's URL and the ws(s):// of that URL's host and port.
    for (const publicUrl of [undefined, 'https://node.example:9443']) {
      const probe = await startProbeServer({ host: '127.0.0.1', port: 0, publicUrl });
      try {
        const res = await register({ probeUrl: probe.url, sessionUrl: probe.sessionUrl });
        expect(res.status, `${probe.url} ${probe.sessionUrl}: ${JSON.stringify(res.body)}`).toBe(201);
      } finally {
        await probe.close();
      }
    }
  });
});
