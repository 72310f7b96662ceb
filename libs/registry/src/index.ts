// Access to the registry's OCI distribution API.
export * from './client.js';
