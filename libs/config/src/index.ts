// The one place that reads process.env: parses and validates every STATICREG_* variable once.
export type { AccessRule } from './access-rules.js';
export { type BrowseAuthConfig, type BrowseAuthMode, type BrowseProxyConfig, BROWSE_AUTH_MODES } from './browse-auth-config.js';
export { type BrowseConfig, type CrawlerConfig, loadBrowseConfig } from './browse-config.js';
export { loadMigrateConfig, loadReplayFailedConfig, REPLAY_FAILED_USAGE, type ReplayFailedConfig } from './command-config.js';
export { type CommonConfig, LOG_LEVELS, type LogLevel, REGISTRY_CHANGES_STREAM } from './common-config.js';
export { ConfigError, MIN_TOKEN_LENGTH } from './env.js';
export { loadReceiverConfig, type NetworkRange, type ReceiverConfig, STATICREG_USER_AGENT, STATICREG_USER_AGENT_PRODUCT } from './receiver-config.js';
export type { RegistryAccessConfig } from './registry-config.js';
export { COUNT_POLICIES, type CountPolicy, loadWorkerConfig, type WorkerConfig } from './worker-config.js';
export * from './cleanup-plan-config.js';
export * from './cleanup-config.js';
