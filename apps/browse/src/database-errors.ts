// Which errors mean browse's database is down for now (Postgres restarting, unreachable), for libs/http's
// unavailableWhen to answer 503. Shared by the registry pages and the metrics API, each with its own message.
import type { ErrorRequestHandler } from 'express';
import { isTransientDbError } from '@staticreg/db';
import { unavailableWhen } from '@staticreg/http';
import { RegistryError } from '@staticreg/registry';

/** isTransientDbError reads messages too ("connect ECONNREFUSED"): a RegistryError saying so is the registry's. */
function isDatabaseDown(error: unknown): boolean {
  return !(error instanceof RegistryError) && isTransientDbError(error);
}

export function databaseErrors(message: string): ErrorRequestHandler {
  return unavailableWhen(isDatabaseDown, message);
}
