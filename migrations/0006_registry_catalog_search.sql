-- Browse's search and its largest repository pages from indexes, at 100,000 repositories and 1,000,000 tags
-- (docs/browse.md, Measured; the plans are in docs/performance.md).

-- Search is "the name contains the text, in any case". search_name holds lower(name) once, in byte order: lower() per
-- row was two thirds of the time of a scan of 100,000 names.
ALTER TABLE registry_repositories ADD COLUMN IF NOT EXISTS search_name TEXT COLLATE "C" GENERATED ALWAYS AS (lower(name)) STORED;

-- Each rank of the results (exact, prefix, elsewhere) is read in name order, byte by byte as the in-memory catalog
-- sorts, whatever the database's collation: when a rank is dense this index scan stops after one page.
CREATE INDEX IF NOT EXISTS idx_registry_repositories_name_c ON registry_repositories (name COLLATE "C");

-- A trigram index finds the names that contain a selective text (svc-4242: 11 of 100,000) without reading the
-- others. pg_trgm ships with PostgreSQL (Debian's postgresql package) and is a trusted extension, so the database's
-- owner may create it; where it cannot be created, search still works, by scanning search_name, and this says why.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
    RAISE WARNING 'staticreg: pg_trgm is not available (%); browse search scans registry_repositories instead of a trigram index', SQLERRM;
END
$$;
-- The operator class is named with the extension's own schema: where pg_trgm was installed earlier into a schema
-- outside the search path (an "extensions" schema, as some hosted PostgreSQL services do), a bare gin_trgm_ops is
-- not found.
DO $$
DECLARE
    trgm_schema NAME;
BEGIN
    SELECT n.nspname INTO trgm_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX IF NOT EXISTS idx_registry_repositories_search_name ON registry_repositories USING gin (search_name %I.gin_trgm_ops)', trgm_schema);
    END IF;
EXCEPTION WHEN insufficient_privilege OR undefined_object THEN
    -- pg_trgm installed where this role may not use it: search scans instead, as without the extension.
    RAISE WARNING 'staticreg: pg_trgm''s operator class is not usable here (%); browse search scans registry_repositories instead of a trigram index', SQLERRM;
END
$$;

-- Sort by created with undated tags last and ties by name in both directions: one index per direction, as a btree
-- read backwards would put undated tags first and ties in reverse name order. They replace (repository, created).
DROP INDEX IF EXISTS idx_registry_tags_repository_created;
CREATE INDEX IF NOT EXISTS idx_registry_tags_repository_created_asc ON registry_tags (repository, created ASC NULLS LAST, tag);
CREATE INDEX IF NOT EXISTS idx_registry_tags_repository_created_desc ON registry_tags (repository, created DESC NULLS LAST, tag);
