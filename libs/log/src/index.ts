// Structured JSON logging (pino) shared by every app; secrets are redacted at the source.
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export function createLogger(service: string, level: string, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'password', 'token'],
      censor: '***',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
