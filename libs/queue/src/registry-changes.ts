// The registry-changes stream: the receiver appends the pushes and deletes it sees, every browse replica reads them.
import type { Redis } from 'ioredis';
import type { RegistryChange } from '@staticreg/events';

/** Entries kept (approximately): enough for a replica that was away for a while; older ones are trimmed. */
export const REGISTRY_CHANGES_MAXLEN = 10_000;

/** One XADD per envelope that holds changes; the entry id's time is Redis's clock, shared by every reader. */
export async function publishRegistryChanges(redis: Redis, stream: string, changes: readonly RegistryChange[]): Promise<string | null> {
  return redis.xadd(stream, 'MAXLEN', '~', String(REGISTRY_CHANGES_MAXLEN), '*', 'v', '1', 'changes', JSON.stringify(changes));
}

export interface RegistryChangeBatch {
  /** Stream id of the last entry read: pass it to the next read. */
  lastId: string;
  /** Each change with its entry's time (ms, from the stream id). */
  changes: Array<RegistryChange & { streamTime: number }>;
}

/** The id to read after so that only entries added from now on are seen. */
export async function latestRegistryChangeId(redis: Redis, stream: string): Promise<string> {
  const last = await redis.xrevrange(stream, '+', '-', 'COUNT', 1);
  return last[0]?.[0] ?? '0-0';
}

/** Blocks up to `blockMs` for entries after `afterId` (use a connection of its own: it blocks). */
export async function readRegistryChanges(redis: Redis, stream: string, afterId: string, blockMs: number, count = 100): Promise<RegistryChangeBatch> {
  const result = (await redis.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', stream, afterId)) as Array<[string, Array<[string, string[]]>]> | null;
  const entries = result?.[0]?.[1] ?? [];
  const changes: RegistryChangeBatch['changes'] = [];
  for (const [id, fields] of entries) {
    const streamTime = Number(id.split('-')[0]);
    const index = fields.indexOf('changes');
    if (index < 0 || index % 2 !== 0) continue;
    try {
      const parsed = JSON.parse(fields[index + 1] ?? '[]') as RegistryChange[];
      for (const change of Array.isArray(parsed) ? parsed : []) {
        if (typeof change?.repository === 'string') changes.push({ ...change, streamTime });
      }
    } catch {
      // An entry this version cannot read is skipped, not fatal.
    }
  }
  return { lastId: entries.at(-1)?.[0] ?? afterId, changes };
}
