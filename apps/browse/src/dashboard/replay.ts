// The failed-jobs panel's replay button: POST the job ids shown, get back what was put back to wait.
import express, { type RequestHandler, type Router } from 'express';
import type { Queue } from 'bullmq';
import { HttpError, orUnavailable, UnavailableError, withTimeout } from '@staticreg/http';
import { replayFailedPullJobsById, type PullJobData } from '@staticreg/queue';
import { accountOf } from '../auth/viewer.js';
import type { CsrfProtection } from '../csrf.js';
import { redisUnavailable } from './redis-unavailable.js';

export const REPLAY_FAILED_PATH = '/api/metrics/failed-jobs/replay';
/** As many as the failed-jobs panel can show. */
export const REPLAY_MAX_JOBS = 500;
const JOB_ID = /^[\w:.-]{1,128}$/;
const REPLAY_TIMEOUT_MS = 10_000;

export interface ReplayDeps {
  queue: Queue<PullJobData> | undefined;
  csrf: CsrfProtection;
}

/** Its errors (malformed JSON, too large) reach browse's error handler, where toHttpError answers 400 or 413. */
const jsonBody = express.json({ limit: '64kb' });

function jobIdsOf(body: unknown): string[] {
  const jobIds = (body as { jobIds?: unknown } | undefined)?.jobIds;
  if (!Array.isArray(jobIds) || jobIds.length === 0 || jobIds.length > REPLAY_MAX_JOBS) {
    throw new HttpError(400, `send JSON {"jobIds": [...]} with 1 to ${REPLAY_MAX_JOBS} job ids`);
  }
  for (const id of jobIds) {
    if (typeof id !== 'string' || !JOB_ID.test(id)) throw new HttpError(400, `jobIds: ${JSON.stringify(id)} is not a job id`);
  }
  return jobIds as string[];
}

export function createReplayRouter(deps: ReplayDeps): Router {
  const router = express.Router();
  // Why the ids shown and not every failed job: what the operator saw is what is replayed; a bulk replay by time
  // or reason is `make replay-failed`, with a dry run first.
  // A signed-in session's token was checked by the sign-in layer already; without a session, the page's own token.
  const forgeryCheck: RequestHandler = (req, res, next) => (accountOf(res)?.user !== undefined ? next() : deps.csrf.requireSameOrigin(req, res, next));
  router.post(REPLAY_FAILED_PATH, forgeryCheck, jsonBody, async (req, res) => {
    const jobIds = jobIdsOf(req.body);
    if (!deps.queue) throw new UnavailableError('Redis is not connected');
    const queue = deps.queue;
    const { replayed } = await orUnavailable(() => withTimeout(replayFailedPullJobsById(queue, jobIds), REPLAY_TIMEOUT_MS, 'replay'), redisUnavailable);
    res.set('Cache-Control', 'no-store').json({ replayed: replayed.length, jobs: replayed });
  });
  return router;
}
