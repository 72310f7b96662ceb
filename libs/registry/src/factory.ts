// Builds the RegistryClient that browse and the worker share, from the validated STATICREG_REGISTRY_* settings.
import type { RegistryAccessConfig } from '@staticreg/config';
import { RegistryClient, registryBaseUrl } from './client.js';
import { RegistryUserAccess } from './user-access.js';

export interface RegistryClientExtras {
  userAgent: string;
  throttle?: () => Promise<void>;
  connections?: number;
}

export function createRegistryClient(access: RegistryAccessConfig, extras: RegistryClientExtras): RegistryClient {
  return new RegistryClient({
    baseUrl: registryBaseUrl(access.hostname),
    userAgent: extras.userAgent,
    timeoutMs: access.timeoutMs,
    credentials:
      access.username !== undefined && access.password !== undefined
        ? { kind: 'basic', username: access.username, password: access.password }
        : { kind: 'anonymous' },
    tls: { ...(access.caPem ? { ca: access.caPem } : {}), insecureSkipVerify: access.insecureSkipVerify },
    ...(extras.throttle ? { throttle: extras.throttle } : {}),
    ...(extras.connections ? { connections: extras.connections } : {}),
  });
}

/** Checks people's own registry credentials (browse sign-in), with the same URL and TLS trust as the service client. */
export function createRegistryUserAccess(access: RegistryAccessConfig, userAgent: string): RegistryUserAccess {
  return new RegistryUserAccess({
    baseUrl: registryBaseUrl(access.hostname),
    userAgent,
    timeoutMs: access.timeoutMs,
    tls: { ...(access.caPem ? { ca: access.caPem } : {}), insecureSkipVerify: access.insecureSkipVerify },
  });
}
