// Whether the worker has stopped counting because of a systemic error: since when, and why.
import { isTransientDbError, sqlState } from '@staticreg/db';

export interface CountingPauseState {
  since: Date;
  /** The SQLSTATE of the error that started the pause, or null for a socket error or a defect in the code. */
  sqlstate: string | null;
  message: string;
  /** 'database unreachable' (connection lost or refused) or 'error' (Postgres or the code refused the batch as a whole). */
  cause: 'database unreachable' | 'error';
}

/**
 * One pause at a time: the first systemic error starts it, the next stored batch ends it. A later error during
 * the same pause only updates the reason shown (a failover drops connections first, then refuses writes), so
 * the log says once when it starts and once when it ends.
 */
export class CountingPause {
  private state: CountingPauseState | undefined;

  constructor(private readonly now: () => Date = () => new Date()) {}

  get current(): CountingPauseState | undefined {
    return this.state;
  }

  /** Records the error; returns the new state when this error started the pause, undefined when already paused. */
  enter(error: unknown): CountingPauseState | undefined {
    const started = this.state === undefined;
    this.state = {
      since: this.state?.since ?? this.now(),
      sqlstate: sqlState(error) ?? null,
      message: error instanceof Error ? error.message : String(error),
      cause: isTransientDbError(error) ? 'database unreachable' : 'error',
    };
    return started ? this.state : undefined;
  }

  /** Ends the pause; returns what it was, or undefined when counting was not paused. */
  leave(): CountingPauseState | undefined {
    const ended = this.state;
    this.state = undefined;
    return ended;
  }
}
