// Where a BullMQ queue's Redis connection errors go: the app's logger, never BullMQ's own print to stderr.
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** The two levels a queue's connection errors are logged at (a pino logger fits). */
export interface ConnectionErrorLog {
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/**
 * A Queue re-emits its connection's errors, and BullMQ prints one nobody listens to on stderr, outside the logs.
 * Logged: the first error after each (re)connection at warn, the reconnect attempts that follow at debug.
 */
export function logConnectionErrors(queue: Queue, connection: Redis, log: ConnectionErrorLog | undefined): void {
  let reported = false;
  connection.on('ready', () => (reported = false));
  queue.on('error', (error: Error) => {
    const fields = { queue: queue.name, err: error };
    if (!reported) log?.warn(fields, 'Redis connection error');
    else log?.debug(fields, 'Redis connection error');
    reported = true;
  });
}
