// Postgres down is the service being unavailable, not a bug: its errors become a 503 with Retry-After (the app's
// handler writes the page or the JSON). Shared by the registry pages and the metrics API.
import type { ErrorRequestHandler } from 'express';
import { isTransientDbError } from '@staticreg/db';
import { HttpError } from '@staticreg/http';
import { RegistryError } from '@staticreg/registry';

export function databaseErrors(message: string): ErrorRequestHandler {
  return (error, _req, _res, next) => {
    // isTransientDbError reads messages too ("connect ECONNREFUSED"): errors that already say what failed (an
    // HttpError, e.g. Redis for the pipeline panels; a RegistryError) pass through.
    const fromDatabase = !(error instanceof HttpError) && !(error instanceof RegistryError) && isTransientDbError(error);
    next(fromDatabase ? new HttpError(503, message, { 'Retry-After': '5' }) : error);
  };
}
