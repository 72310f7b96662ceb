-- Cleanup by use: every action apply took or declined (who asked, when, which manifest, under which rule, and
-- what happened), shown on browse's /cleanup page, newest (highest id) first. Rows are only ever added.
CREATE TABLE IF NOT EXISTS cleanup_audit (
  id BIGSERIAL PRIMARY KEY,
  at TIMESTAMPTZ NOT NULL DEFAULT now(),
  actor TEXT NOT NULL,
  -- The plan the action belonged to (its plannedAt): groups one apply's rows.
  planned_at TIMESTAMPTZ NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  -- The tags the plan saw on the digest, as a JSON array of strings ([] = untagged).
  tags JSONB NOT NULL DEFAULT '[]',
  rule TEXT NOT NULL,
  -- delete: one planned deletion; apply: the run as a whole (a refusal that stopped it).
  action TEXT NOT NULL,
  -- deleted, already-gone, skipped, refused or failed.
  result TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT ''
);

