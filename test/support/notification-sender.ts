// A registry's notification sink, emulated: one POST in flight, the same envelope retried until 2xx/3xx, with backoff.
/** One registry notification (a manifest pull) as the sender builds it, kept for the test's own reference. */
export interface SentPull {
  id: string;
  /** RFC 3339 in UTC ("...Z"), so its first ten characters are the UTC day. */
  timestamp: string;
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  userAgent: string;
  clientAddress: string;
}

export interface SenderOptions<P extends SentPull = SentPull> {
  name: string;
  url: string;
  /** The receiver's webhook token, sent as the registry's configured Authorization header. */
  token: string;
  /** Builds the i-th event of this sender (i from 0). */
  pullAt(index: number): P;
  /** Per attempt, as the registry's `timeout` (default 1 s). */
  attemptTimeoutMs: number;
  /** Attempts made back to back before backing off, as the registry's `threshold`. */
  threshold: number;
  /** Pause between attempts once past the threshold, as the registry's `backoff`. */
  backoffMs: number;
  /**
   * Envelopes sent again after their 200, as if the answer had come after the registry's timeout:
   * 'now' right away (the registry's own retry), 'later' after a few hundred further events.
   */
  resendAfterAck(index: number): 'now' | 'later' | undefined;
}

export interface SenderStats {
  /** POSTs answered 2xx/3xx (re-sent envelopes included). */
  deliveries: number;
  /** Attempts that failed (error status, refused, timed out) and were retried. */
  retries: number;
  /** Envelopes sent again after a 200 on purpose. */
  deliberateResends: number;
  statuses: Record<string, number>;
}

const LATER_BY = 300;

/**
 * Sends events 0..released-1 in order, one envelope at a time, each until the receiver accepts it.
 * The test releases events phase by phase and waits on `acknowledged`, never on time.
 */
export class NotificationSender<P extends SentPull = SentPull> {
  readonly stats: SenderStats = { deliveries: 0, retries: 0, deliberateResends: 0, statuses: {} };
  /** Event id -> the event, for every event answered 2xx/3xx at least once. */
  readonly acked = new Map<string, P>();
  private next = 0;
  private released = 0;
  private readonly resendNow: P[] = [];
  private readonly resendLater: Array<{ after: number; pull: P }> = [];
  private wake: (() => void) | undefined;
  private readonly ackWaiters: Array<{ count: number; resolve: () => void }> = [];
  private stopped = false;
  private aborted = false;
  private readonly loop: Promise<void>;

  constructor(private readonly options: SenderOptions<P>) {
    this.loop = this.run();
  }

  /** Allows events up to index count-1 to be sent. */
  release(count: number): void {
    this.released = Math.max(this.released, count);
    this.wake?.();
  }

  /** Resolves once every released event has been acknowledged (deliberate re-sends still pending excepted). */
  async acknowledged(count = this.released): Promise<void> {
    if (this.next >= count) return;
    await new Promise<void>((resolve) => this.ackWaiters.push({ count, resolve }));
  }

  /** Stops at once, delivered or not (a failed test must not leave senders retrying against nothing). */
  abort(): void {
    this.aborted = true;
    this.stopped = true;
    this.resendNow.length = 0;
    this.resendLater.length = 0;
    this.released = this.next;
    this.wake?.();
  }

  /** Sends every released event and every re-send still pending, then stops the loop. */
  async finish(): Promise<void> {
    for (const later of this.resendLater.splice(0)) this.resendNow.push(later.pull);
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.aborted) {
      const pull = this.take();
      if (pull === undefined) {
        if (this.stopped) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      await this.deliver(pull.pull);
      if (pull.index !== undefined) {
        this.next = pull.index + 1;
        const choice = this.options.resendAfterAck(pull.index);
        if (choice === 'now') this.resendNow.push(pull.pull);
        if (choice === 'later') this.resendLater.push({ after: pull.index + LATER_BY, pull: pull.pull });
        for (let i = this.ackWaiters.length - 1; i >= 0; i -= 1) {
          if (this.next >= this.ackWaiters[i]!.count) this.ackWaiters.splice(i, 1)[0]!.resolve();
        }
      } else {
        this.stats.deliberateResends += 1;
      }
    }
  }

  private take(): { pull: P; index?: number } | undefined {
    const again = this.resendNow.shift();
    if (again) return { pull: again };
    const due = this.resendLater.findIndex((later) => later.after <= this.next);
    if (due >= 0) return { pull: this.resendLater.splice(due, 1)[0]!.pull };
    if (this.next >= this.released) return undefined;
    return { pull: this.options.pullAt(this.next), index: this.next };
  }

  /** Posts one envelope until it is accepted: `threshold` attempts back to back, then one per backoff. */
  private async deliver(pull: P): Promise<void> {
    const body = JSON.stringify({ events: [this.envelopeEvent(pull)] }, null, 3);
    for (let failures = 0; ; ) {
      let status: string;
      try {
        const response = await fetch(this.options.url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/vnd.docker.distribution.events.v1+json',
            'User-Agent': 'Go-http-client/1.1',
            Authorization: `Bearer ${this.options.token}`,
          },
          body,
          signal: AbortSignal.timeout(this.options.attemptTimeoutMs),
        });
        await response.arrayBuffer();
        status = String(response.status);
        if (response.status >= 200 && response.status < 400) {
          this.stats.statuses[status] = (this.stats.statuses[status] ?? 0) + 1;
          this.stats.deliveries += 1;
          this.acked.set(pull.id, pull);
          return;
        }
      } catch (error) {
        status = (error as Error).name === 'TimeoutError' ? 'timeout' : 'refused';
      }
      this.stats.statuses[status] = (this.stats.statuses[status] ?? 0) + 1;
      this.stats.retries += 1;
      if (this.aborted) return;
      failures += 1;
      if (failures >= this.options.threshold) await new Promise((resolve) => setTimeout(resolve, this.options.backoffMs));
    }
  }

  /** The event as registry 2.8 writes it; the request id is stable across re-sends, as the registry's is. */
  private envelopeEvent(pull: SentPull): Record<string, unknown> {
    const requestId = `request-${pull.id}`;
    return {
      id: pull.id,
      timestamp: pull.timestamp,
      action: 'pull',
      target: {
        mediaType: pull.mediaType,
        size: 1234,
        digest: pull.digest,
        length: 1234,
        repository: pull.repository,
        url: `http://registry.soak.invalid/v2/${pull.repository}/manifests/${pull.digest}`,
        tag: pull.tag,
      },
      request: { id: requestId, addr: pull.clientAddress, host: 'registry.soak.invalid', method: 'GET', useragent: pull.userAgent },
      actor: {},
      source: { addr: `${this.options.name}:5000`, instanceID: `${this.options.name}-instance` },
    };
  }
}
