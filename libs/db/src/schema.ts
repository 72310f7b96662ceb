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

export interface Database {
  container_pull_metrics: ContainerPullMetricsTable;
  processed_pull_events: ProcessedPullEventsTable;
}
