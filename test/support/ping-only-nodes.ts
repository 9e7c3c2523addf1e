/**
 * Render nodes that only answer pings, for the probe tests: real GET /ping servers (the node's own) behind
 * delay proxies, registered with an API over HTTP. No GL, no tasks.
 */
import { startProbeServer, type ProbeServer } from '../../render-node/agent/probe-server.ts';
import { call, nodeCard } from './api-harness.ts';
import { startDelayProxy, type DelayProxy } from './delay-proxy.ts';

/** One registered ping-only node: the API's answer and what serves its pings. */
export interface PingOnlyNode {
  nodeId: string;
  nodeToken: string;
  probeKey: string;
  server: ProbeServer;
  proxy: DelayProxy;
}

/** A set of ping-only nodes, closed together. */
export class PingOnlyNodes {
  /** Node ids by name. */
  readonly ids: Record<string, string> = {};
  private readonly servers: ProbeServer[] = [];
  private readonly proxies: DelayProxy[] = [];

  /**
   * Registers node `name` with the API at `apiUrl`, its ping `delayMs` each way from here. The caller tells the
   * server its node id (setNodeId), with or without the probe key, as its test needs.
   */
  async add(apiUrl: string, name: string, delayMs: number): Promise<PingOnlyNode> {
    const server = await startProbeServer({ host: '127.0.0.1' });
    this.servers.push(server);
    const proxy = await startDelayProxy({ target: { port: server.port }, delayMs });
    this.proxies.push(proxy);
    const res = await call(apiUrl, 'POST', '/v1/nodes', { json: { ...nodeCard(name), probeUrl: `${proxy.url}/ping` } });
    this.ids[name] = res.body.nodeId;
    return { nodeId: res.body.nodeId, nodeToken: res.body.nodeToken, probeKey: res.body.probeKey, server, proxy };
  }

  async close(): Promise<void> {
    for (const p of this.proxies) await p.close();
    for (const s of this.servers) await s.close();
  }
}
