// The one place that decides an error's HTTP status, headers and client message; the apps' handlers only render.
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

/** A request body that body-parser refused (malformed, too large, unsupported encoding): the client's error. */
export class RequestBodyError extends HttpError {
  constructor(
    status: number,
    message: string,
    /** body-parser's err.type, e.g. `entity.too.large`. */
    readonly type: string,
  ) {
    super(status, message);
    this.name = 'RequestBodyError';
  }
}

/**
 * A dependency that does not answer for now (the registry, Redis, Postgres): 503, not a bug. `retryAfterSeconds`
 * becomes Retry-After when the caller knows when trying again makes sense; `cause` keeps the failure for the log.
 */
export class UnavailableError extends HttpError {
  constructor(message: string, options: { retryAfterSeconds?: number; headers?: Record<string, string>; cause?: unknown } = {}) {
    const retryAfter: Record<string, string> = options.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(options.retryAfterSeconds) };
    super(503, message, { ...retryAfter, ...options.headers });
    this.name = 'UnavailableError';
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * Runs `work`, whose failures mean its dependency did not answer: an HttpError passes as it is (it was decided
 * already), any other failure becomes `classify(error)`, usually an UnavailableError.
 */
export async function orUnavailable<T>(work: () => Promise<T>, classify: (error: unknown) => HttpError): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw error instanceof HttpError ? error : classify(error);
  }
}

/** Anything else: a bug or a failure nobody classified. 500, so a registry retries, with no internal detail. */
export class InternalError extends HttpError {
  constructor(override readonly cause: unknown) {
    super(500, 'internal error');
    this.name = 'InternalError';
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
  'parameters.too.many': { status: 413, message: (err) => err.message },
};

/** What the client is told about `error`: an HttpError as it is, a refused request body by its type, else a 500. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const type = (error as { type?: unknown } | null | undefined)?.type;
  const bodyError = typeof type === 'string' ? BODY_ERRORS[type] : undefined;
  if (bodyError) return new RequestBodyError(bodyError.status, bodyError.message(error as { message: string; limit?: number }), type as string);
  return new InternalError(error);
}

/**
 * A dependency that is down for a while (Postgres restarting, out of connections) is the service being unavailable,
 * not a bug: the errors `isUnavailable` recognises become 503 with Retry-After and `message`; HttpErrors pass as they are.
 */
export function unavailableWhen(isUnavailable: (error: unknown) => boolean, message: string): ErrorRequestHandler {
  return (error, _req, _res, next) => {
    next(!(error instanceof HttpError) && isUnavailable(error) ? new UnavailableError(message, { retryAfterSeconds: 5, cause: error }) : error);
  };
}

/**
 * The JSON error handler of the receiver and the worker's health endpoints: `{ error }` with toHttpError's status.
 * Never answers 3xx: a registry counts any 2xx or 3xx as delivered, so a redirect would drop the event.
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      // The answer is out (the receiver answers before it logs): log, and let Express end the connection.
      log.error({ err: error, path: req.path }, 'Error after the answer was sent');
      next(error);
      return;
    }
    const answer = toHttpError(error);
    if (answer instanceof RequestBodyError) log.warn({ path: req.path, type: answer.type, status: answer.status }, 'Rejected request body');
    if (answer instanceof InternalError) log.error({ err: error, path: req.path }, 'Unhandled error');
    res.set(answer.headers).status(answer.status).json({ error: answer.message });
  };
}
