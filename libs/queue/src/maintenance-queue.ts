// The maintenance queue contract: its name, its jobs, and how often each runs (BullMQ job schedulers).
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { logConnectionErrors, type ConnectionErrorLog } from './connection-errors.js';

export const MAINTENANCE_QUEUE = 'staticreg-maintenance';

/** Every maintenance job; the worker must have a handler for each (checked by type and at start). */
export const MAINTENANCE_JOBS = ['prune-processed-events', 'prune-sessions', 'apply-retention'] as const;
export type MaintenanceJobName = (typeof MAINTENANCE_JOBS)[number];

export const MAINTENANCE_EVERY_MS: Record<MaintenanceJobName, number> = {
  'prune-processed-events': 60 * 60 * 1000,
  'prune-sessions': 60 * 60 * 1000,
  'apply-retention': 60 * 60 * 1000,
};

export function createMaintenanceQueue(connection: Redis, log?: ConnectionErrorLog): Queue {
  const queue = new Queue(MAINTENANCE_QUEUE, {
    connection,
    defaultJobOptions: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 }, attempts: 1 },
  });
  logConnectionErrors(queue, connection, log);
  return queue;
}

/**
 * Puts the schedulers in place; several workers doing it at once is harmless (one scheduler per id).
 * A job left out of `enabled` has its scheduler removed, so turning retention off takes effect.
 */
export async function scheduleMaintenance(queue: Queue, enabled: ReadonlySet<MaintenanceJobName>): Promise<void> {
  for (const name of MAINTENANCE_JOBS) {
    if (enabled.has(name)) await queue.upsertJobScheduler(name, { every: MAINTENANCE_EVERY_MS[name] }, { name });
    else await queue.removeJobScheduler(name);
  }
}
