// Row types of the tables staticreg owns, as Kysely sees them.
import type { ColumnType, Generated } from 'kysely';

export interface ContainerPullMetricsTable {
  id: Generated<string>;
  /** YYYY-MM-DD (the DATE parser is overridden so no local-midnight Date sneaks in). */
  pull_date: string;
  repo_name: string;
  tag: string;
  digest: string;
  architecture: string;
  pull_count: number;
  created_at: ColumnType<Date, never, never>;
  updated_at: ColumnType<Date, never, string>;
}

export interface ProcessedPullEventsTable {
  event_id: string;
  processed_at: ColumnType<Date, never, never>;
}

export interface ContainerPullChecksTable {
  id: Generated<string>;
  pull_date: string;
  repo_name: string;
  tag: string;
  digest: string;
  architecture: string;
  check_count: number;
  created_at: ColumnType<Date, never, never>;
  updated_at: ColumnType<Date, never, string>;
}

export interface PullSessionEventsTable {
  event_id: string;
  client_key: string;
  event_time: Date;
  repo_name: string;
  method: string;
  media_type: string;
  digest: string;
  tag: string;
  ua_architecture: string;
  received_at: ColumnType<Date, never, never>;
}

export interface PullSessionsTable {
  client_key: string;
  started_at: Date;
  ended_at: Date;
  /** The SessionCounts this session added, as JSON. */
  counts: ColumnType<unknown, string, string>;
}

export interface ManifestDescriptionsTable {
  digest: string;
  kind: 'index' | 'image';
  platform: string | null;
  /** An index's children: [[digest, platform], ...] as JSON. */
  children: ColumnType<unknown, string | null, string | null>;
  described_at: ColumnType<Date, never, never>;
}

export interface Database {
  container_pull_metrics: ContainerPullMetricsTable;
  container_pull_checks: ContainerPullChecksTable;
  processed_pull_events: ProcessedPullEventsTable;
  pull_session_events: PullSessionEventsTable;
  pull_sessions: PullSessionsTable;
  manifest_descriptions: ManifestDescriptionsTable;
}
