// When a refusal of one event's data proves that event poisonous rather than the database at fault.

/**
 * What proves that Postgres refuses one event's data rather than every event's: a store of other events that began
 * after this event was refused and succeeded, followed by another refusal of this event. A refusal with no such
 * store before it (the event alone in its batch, every event of its batch refused, a constraint added or dropped
 * meanwhile) leaves the event a suspect, and its refusal pauses counting like a systemic error. Times are ticks
 * of one logical clock per worker, so batches in flight at once can prove each other's events.
 */
export class PoisonEvidence {
  private clock = 0;
  /** Event id -> when it was first refused, and when a later-begun store first succeeded after that. */
  private readonly suspects = new Map<string, { refusedAt: number; provenAt?: number }>();

  constructor(private readonly maxSuspects = 10_000) {}

  /** A ticket for a store attempt that begins now. */
  begin(): number {
    this.clock += 1;
    return this.clock;
  }

  /** A store that began at `ticket` succeeded: it proves every suspect refused before that. */
  succeeded(ticket: number): void {
    this.clock += 1;
    for (const suspect of this.suspects.values()) if (suspect.provenAt === undefined && suspect.refusedAt < ticket) suspect.provenAt = this.clock;
  }

  /** Whether a new attempt at this suspect could prove it poisonous. */
  hasProof(eventId: string): boolean {
    return this.suspects.get(eventId)?.provenAt !== undefined;
  }

  /** The event, alone in an attempt that began at `ticket`, was refused: true when that proves it poisonous. */
  refused(eventId: string, ticket: number): boolean {
    this.clock += 1;
    const suspect = this.suspects.get(eventId);
    if (suspect?.provenAt !== undefined && suspect.provenAt < ticket) {
      this.suspects.delete(eventId);
      return true;
    }
    if (!suspect) {
      if (this.suspects.size >= this.maxSuspects) this.suspects.delete(this.suspects.keys().next().value!);
      this.suspects.set(eventId, { refusedAt: this.clock });
    }
    return false;
  }
}
