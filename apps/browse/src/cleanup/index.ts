// The cleanup feature for admins: GET /cleanup shows the plan and the audit, POST /cleanup/apply applies it.
import express, { type Request, type Response, type Router } from 'express';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { applyCleanup, loadPolicy, planCleanupInSnapshot, planFingerprint, PolicyError, type CleanupPlan } from '@staticreg/cleanup';
import { STATICREG_USER_AGENT, type CleanupConfig, type RegistryAccessConfig } from '@staticreg/config';
import { listCleanupAudit, withCleanupApplyLock, type Database } from '@staticreg/db';
import type { Queue } from 'bullmq';
import { oldestUncountedJobTime, type PullJobData } from '@staticreg/queue';
import { HttpError } from '@staticreg/http';
import { createRegistryClient, RegistryError, type RegistryClient } from '@staticreg/registry';
import { accountOf, viewerOf } from '../auth/viewer.js';
import { requireSameOrigin } from '../auth/csrf.js';
import { formBody } from '../auth/index.js';
import { page } from '../html.js';
import { cleanupPageBody, type CleanupPageState } from './page.js';

export interface CleanupFeatureDeps {
  cleanup: CleanupConfig;
  db: Kysely<Database> | undefined;
  registry: RegistryAccessConfig | undefined;
  /** The pull queue: apply stops while it holds events the counts do not show yet. */
  queue: Queue<PullJobData>;
  log: Logger;
  now?: () => Date;
}

export interface CleanupFeature {
  router: Router;
  /** Ends a running apply after its current deletion and waits for it. */
  stop(): Promise<void>;
}

const NOTICES: Record<string, { text: string; good: boolean }> = {
  started: { text: 'Apply started: the audit below fills as each manifest is handled (reload to follow it).', good: true },
};

function requireAdmin(res: Response): void {
  if (!viewerOf(res).admin) throw new HttpError(403, 'cleanup is for admins (STATICREG_BROWSE_ADMINS)');
}

/**
 * Why this viewer may see the plan but not apply it: with no sign-in everyone is an admin and deletes would go out
 * under browse's registry credential, guarded only by headers any non-browser client can forge.
 */
function applyRefusal(res: Response, cleanup: CleanupConfig): string | undefined {
  // A viewer without a user exists only under STATICREG_BROWSE_AUTH=none (see Viewer.user).
  if (viewerOf(res).user !== undefined || cleanup.allowApplyWithoutSignIn) return undefined;
  return 'Apply is off: browse runs with STATICREG_BROWSE_AUTH=none, so anyone who reaches it could delete with its registry credential. Sign in (registry or proxy mode), run make cleanup-apply, or set STATICREG_CLEANUP_ALLOW_APPLY_WITHOUT_SIGN_IN=true.';
}

export function createCleanupFeature(deps: CleanupFeatureDeps): CleanupFeature {
  const router = express.Router();
  const now = deps.now ?? (() => new Date());
  const client: RegistryClient | undefined = deps.registry ? createRegistryClient(deps.registry, { userAgent: STATICREG_USER_AGENT, connections: 2 }) : undefined;
  let running: { since: string; done: Promise<void> } | undefined;
  let stopping = false;

  /** The plan under the configured policy now, or why there is none. */
  async function currentPlan(): Promise<{ plan?: CleanupPlan; unavailable?: string }> {
    if (!deps.cleanup.policyFile) return { unavailable: 'Cleanup is not configured: set STATICREG_CLEANUP_POLICY to a policy file (docs/cleanup.md).' };
    if (!deps.db) return { unavailable: 'Cleanup needs the Postgres catalog: set STATICREG_DB_URL.' };
    if (!client) return { unavailable: 'Cleanup needs the registry: set STATICREG_REGISTRY_HOSTNAME.' };
    try {
      const policy = await loadPolicy(deps.cleanup.policyFile);
      return { plan: await planCleanupInSnapshot(deps.db, policy, { now: now(), retentionDays: deps.cleanup.retentionDays }) };
    } catch (error) {
      if (error instanceof PolicyError) return { unavailable: `The cleanup policy cannot be used: ${error.message}` };
      throw error;
    }
  }

  router.get('/cleanup', async (req: Request, res: Response) => {
    requireAdmin(res);
    const { plan, unavailable } = await currentPlan();
    const state: CleanupPageState = { audit: deps.db ? await listCleanupAudit(deps.db, { limit: 200 }) : [] };
    if (unavailable) state.unavailable = unavailable;
    if (plan) {
      state.plan = plan;
      state.fingerprint = planFingerprint(plan);
      const first = plan.deletions[0];
      if (first && client) {
        try {
          state.rights = await client.probeDeleteRights(first.repository);
        } catch (error) {
          if (!(error instanceof RegistryError)) throw error;
          state.rights = { unknown: error.message };
        }
      }
    }
    if (running) state.runningSince = running.since;
    const refusal = applyRefusal(res, deps.cleanup);
    if (refusal) state.applyRefusal = refusal;
    const csrfToken = viewerOf(res).csrfToken;
    if (csrfToken) state.csrfToken = csrfToken;
    const notice = typeof req.query.apply === 'string' ? NOTICES[req.query.apply] : undefined;
    if (notice) state.notice = notice;
    res.set('Cache-Control', 'no-store').type('html').send(page({ account: accountOf(res), title: 'Cleanup', crumbs: [{ label: 'Cleanup' }], body: cleanupPageBody(state) }));
  });

  // With a session the sign-in router parsed the form and checked its token already (formBody then does nothing);
  // without sign-in or behind a proxy nobody else parses it.
  router.post('/cleanup/apply', formBody, async (req: Request, res: Response) => {
    requireAdmin(res);
    const refusal = applyRefusal(res, deps.cleanup);
    if (refusal) throw new HttpError(403, `not applied: ${refusal}`);
    const viewer = viewerOf(res);
    // Without a session (no sign-in, or a proxy) there is no token: the browser must say the form is ours.
    if (viewer.csrfToken === undefined) {
      if (req.get('sec-fetch-site') === undefined && req.get('origin') === undefined) throw new HttpError(403, 'refused: apply is accepted only from the /cleanup page (no Origin or Sec-Fetch-Site header)');
      requireSameOrigin(req);
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (body.confirm !== 'yes') throw new HttpError(400, 'not applied: tick the confirmation box to delete the planned manifests');
    const plannedAt = typeof body.plannedAt === 'string' ? new Date(body.plannedAt) : undefined;
    if (!plannedAt || Number.isNaN(plannedAt.getTime())) throw new HttpError(400, 'not applied: the form carries no plan time; reload the page');
    // Use after plannedAt cancels a deletion: a time later than now would make every use look older than the plan.
    if (plannedAt.getTime() > now().getTime()) throw new HttpError(400, 'not applied: the plan time is later than now; reload the page');
    if (running) throw new HttpError(409, `not applied: an apply started at ${running.since} is still running`);
    const { plan, unavailable } = await currentPlan();
    if (!plan || !deps.db || !client) throw new HttpError(409, `not applied: ${unavailable ?? 'cleanup is not available'}`);
    // What goes must be what the admin saw: a plan that changed since (a push, a pull, a policy edit) is shown again.
    if (planFingerprint(plan) !== body.plan) throw new HttpError(409, 'not applied: the plan changed since the page was shown; review it again');
    const db = deps.db;
    const actor = viewer.user ?? 'browse (STATICREG_BROWSE_AUTH=none)';
    const since = now().toISOString();
    let started!: (ran: boolean) => void;
    const lockTaken = new Promise<boolean>((resolve) => (started = resolve));
    const done = withCleanupApplyLock(db, (connection) => {
      started(true);
      deps.log.info({ actor, deletions: plan.deletions.length, plannedAt: plannedAt.toISOString() }, 'Cleanup apply started');
      return applyCleanup(connection, client, { ...plan, plannedAt: plannedAt.toISOString() }, {
        actor,
        confirmed: true,
        intervalMs: deps.cleanup.deleteIntervalMs,
        pullBacklog: { oldestWaitingJobTime: () => oldestUncountedJobTime(deps.queue), maxWaitMs: deps.cleanup.pullBacklogMaxWaitMs },
        shouldStop: () => stopping,
      });
    })
      .then(
        (outcome) => {
          if (!outcome.ran) return;
          const report = outcome.value;
          deps.log.info({ actor, deleted: report.deleted, skipped: report.skipped, failed: report.failed, refused: report.refused, stopped: report.stopped }, 'Cleanup apply finished');
        },
        (error: unknown) => deps.log.error({ err: error, actor }, 'Cleanup apply failed'),
      )
      .finally(() => {
        started(false);
        running = undefined;
      });
    running = { since, done };
    // Another browse replica or the CLI may be applying: only one apply deletes at a time.
    if (!(await lockTaken)) throw new HttpError(409, 'not applied: another cleanup apply is running (another browse, or make cleanup-apply); see the audit');
    res.redirect(303, '/cleanup?apply=started');
  });

  return {
    router,
    async stop() {
      stopping = true;
      await running?.done;
      await client?.close();
    },
  };
}
