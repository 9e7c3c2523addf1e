/**
 * Metering: the ledger of accepted work per job and per node, and the price quote of a job before it is
 * submitted (same body as POST /v1/jobs, checked against the scene the same way). A client key quotes with
 * its own scenes and reads its own jobs' ledgers; the per-node ledger (what each provider earned) is for
 * admin keys.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { TesseraError } from '../../protocol/errors.ts';
import { JobRequest } from '../../protocol/job-spec.ts';
import { JobLedger, LedgerQuery, NodeLedger, Quote } from '../../protocol/metering.ts';
import type { ApiContext } from '../api-context.ts';
import { creditStandings } from '../credit-standings.ts';
import { toJobLedger, toNodeLedger } from '../ledger-view.ts';
import { planJob } from '../plan-job.ts';
import { quoteJob } from '../quote-job.ts';
import { CLIENT_AUTH_ERRORS, clientSecurity, principalOf, requireAdmin } from './client-auth.ts';
import { errorResponses } from './error-responses.ts';
import { requireJob, requireScene } from './job-routes.ts';
import { jsonBody, jsonResponse } from './route-shapes.ts';

const JobParams = z.object({ id: z.string().min(1).max(128) });

const quote = createRoute({
  method: 'post',
  path: '/v1/quote',
  tags: ['metering'],
  summary: 'What a job would cost, before submitting it',
  security: clientSecurity,
  description:
    'The body is a job request, as for POST /v1/jobs. Render time comes from the measured speed of the healthy nodes; ' +
    'the verification re-renders (a sampled share of the tiles) are included in the time, the megapixels billed and the price.',
  request: { body: jsonBody(JobRequest) },
  responses: {
    200: jsonResponse('The quote.', Quote),
    ...errorResponses(...CLIENT_AUTH_ERRORS, 'BAD_REQUEST', 'SCENE_UNKNOWN', 'FRAME_OUT_OF_RANGE', 'CAMERA_NOT_FOUND', 'CLIP_NOT_FOUND', 'SCENE_INDEX_NOT_FOUND', 'UNAVAILABLE'),
  },
});

const jobLedger = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/ledger',
  tags: ['metering'],
  summary: "A job's accepted work: render-seconds, megapixels and tiles, per node",
  security: clientSecurity,
  description:
    'Totals count credited entries only: accepted results that were not outvoted, and verifying renders that agreed, of nodes in good standing. ' +
    'Work of a node on probation is shown held (when the API holds new identities\' credit); all work of a node proven a liar (blocklisted) is forfeited.',
  request: { params: JobParams },
  responses: {
    200: jsonResponse('The ledger of the job.', JobLedger),
    ...errorResponses(...CLIENT_AUTH_ERRORS, 'JOB_NOT_FOUND'),
  },
});

const nodeLedger = createRoute({
  method: 'get',
  path: '/v1/ledger',
  tags: ['metering'],
  summary: 'Accepted work per node (one node with ?node=); admin keys only',
  security: clientSecurity,
  request: { query: LedgerQuery },
  responses: {
    200: jsonResponse('Credited totals per node.', NodeLedger),
    ...errorResponses(...CLIENT_AUTH_ERRORS, 'FORBIDDEN', 'BAD_REQUEST'),
  },
});

/** Register the metering routes. */
export function registerMeteringRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  app.openapi(quote, async (c) => {
    const req = c.req.valid('json');
    const scene = await requireScene(ctx, req.sceneId, principalOf(c));
    const plan = planJob(req, scene.info, { jobId: 'quote' });
    // Speeds as the API believes them (measured, else a prior no claim can exceed), never the cards' claims.
    const nodes = (await ctx.nodes.believedNodes()).filter((n) => n.card.tilesPerSecond > 0);
    if (nodes.length === 0) throw new TesseraError('UNAVAILABLE', 'No healthy render node has a measured speed to estimate from; start a node and ask again.');
    return c.json(quoteJob(plan, nodes, ctx.options.verification.sampleRate, ctx.options.pricing), 200);
  });

  app.openapi(jobLedger, async (c) => {
    const job = await requireJob(ctx, c.req.valid('param').id, principalOf(c));
    const entries = await ctx.jobs.listLedger({ jobId: job.jobId });
    const standing = await creditStandings(ctx.jobs, entries.map((e) => e.nodeId), ctx.options.verification.sampleRate > 0, ctx.options.trust);
    return c.json(toJobLedger(job.jobId, entries, standing), 200);
  });

  app.openapi(nodeLedger, async (c) => {
    requireAdmin(c);
    const { node } = c.req.valid('query');
    const entries = await ctx.jobs.listLedger({ nodeId: node });
    const standing = await creditStandings(ctx.jobs, node === undefined ? undefined : [node], ctx.options.verification.sampleRate > 0, ctx.options.trust);
    return c.json(toNodeLedger(entries, standing), 200);
  });
}
