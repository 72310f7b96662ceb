// One pass over a notification envelope: the pulls to count, the events skipped and why, the registry changes.
import { evaluateEvent, type PullEvent, type RuleOptions, type SkipReason } from './rules.js';
import { registryChangeOf, type RegistryChange } from './registry-changes.js';
import { isObject } from './json.js';

export interface SkippedEvent {
  index: number;
  reason: SkipReason;
  eventId: string | undefined;
}

export type EnvelopeResult =
  | { ok: true; accepted: PullEvent[]; skipped: SkippedEvent[]; changes: RegistryChange[]; total: number }
  | { ok: false; error: string };

/**
 * Validates the `{"events": [...]}` envelope and applies the rules to each event, in order; the events that are not
 * pulls are also read as registry changes (manifest pushes and deletes), so the envelope is walked once.
 */
export function evaluateEnvelope(body: unknown, options: RuleOptions): EnvelopeResult {
  if (!isObject(body)) return { ok: false, error: 'body must be a JSON object of the form {"events": [...]}' };
  const events = body.events;
  if (!Array.isArray(events)) return { ok: false, error: 'body must have an "events" array' };
  const accepted: PullEvent[] = [];
  const skipped: SkippedEvent[] = [];
  const changes: RegistryChange[] = [];
  events.forEach((raw: unknown, index: number) => {
    const verdict = evaluateEvent(raw, options);
    if (verdict.accepted) {
      accepted.push(verdict.event);
      return;
    }
    skipped.push({ index, reason: verdict.reason, eventId: verdict.eventId });
    if (verdict.reason === 'not-pull') {
      const change = registryChangeOf(raw);
      if (change) changes.push(change);
    }
  });
  return { ok: true, accepted, skipped, changes, total: events.length };
}
