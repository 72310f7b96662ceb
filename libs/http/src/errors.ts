// The one place that maps errors to HTTP status codes and JSON bodies.
import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';

/** An error whose status and message are meant for the client. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** body-parser's error types (err.type) and what the client is told. */
const BODY_ERRORS: Record<string, { status: number; message: (err: { message: string; limit?: number }) => string }> = {
  'entity.parse.failed': { status: 400, message: (err) => `malformed JSON: ${err.message}` },
  'entity.too.large': { status: 413, message: (err) => `request body is larger than the limit of ${err.limit} bytes` },
  'encoding.unsupported': { status: 415, message: (err) => err.message },
  'charset.unsupported': { status: 415, message: (err) => err.message },
  'request.aborted': { status: 400, message: () => 'request aborted' },
  'request.size.invalid': { status: 400, message: () => 'request size did not match Content-Length' },
};

/**
 * Never answers 3xx: a registry counts any 2xx or 3xx as delivered, so a redirect would drop the event.
 * Unexpected errors are 500 (the registry retries) with no internal detail in the body.
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      // The answer is out (the receiver answers before it logs): log, and let Express end the connection.
      log.error({ err: error, path: req.path }, 'Error after the answer was sent');
      next(error);
      return;
    }
    if (error instanceof HttpError) {
      res.set(error.headers).status(error.status).json({ error: error.message });
      return;
    }
    const bodyError = typeof error?.type === 'string' ? BODY_ERRORS[error.type] : undefined;
    if (bodyError) {
      log.warn({ path: req.path, type: error.type, status: bodyError.status }, 'Rejected request body');
      res.status(bodyError.status).json({ error: bodyError.message(error) });
      return;
    }
    log.error({ err: error, path: req.path }, 'Unhandled error');
    res.status(500).json({ error: 'internal error' });
  };
}
