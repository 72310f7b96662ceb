-- The registry's catalog as browse keeps it when a database is configured: shared by every browse replica,
-- written by the crawler (libs/catalog), read by the pages with indexes for the tree, search and tag sorts.

-- Tag and path names sort with numbers in order (1.9 before 1.10), as the in-memory catalog does.
CREATE COLLATION IF NOT EXISTS staticreg_natural (provider = icu, locale = 'und-u-kn-true');

CREATE TABLE IF NOT EXISTS registry_repositories (
    name          TEXT        PRIMARY KEY,
    tag_count     INTEGER     NOT NULL DEFAULT 0,
    -- When its tags were last read from the registry; NULL: listed in the catalog, not read yet.
    refreshed_at  TIMESTAMPTZ,
    -- The last refresh failed with this message (the previous tags are kept).
    error         TEXT
);
CREATE INDEX IF NOT EXISTS idx_registry_repositories_refreshed ON registry_repositories (refreshed_at NULLS FIRST, name);

-- One row per path of the repository tree (a folder, a repository, or both), with what lies below it, so a
-- folder listing is one index range scan whatever the size of the registry.
CREATE TABLE IF NOT EXISTS registry_paths (
    path                TEXT     PRIMARY KEY,
    parent              TEXT     NOT NULL,
    name                TEXT     NOT NULL COLLATE staticreg_natural,
    is_repository       BOOLEAN  NOT NULL DEFAULT false,
    repositories_below  INTEGER  NOT NULL DEFAULT 0,
    -- Tags of the repository at this path and of every repository below it.
    tags                BIGINT   NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_registry_paths_parent_name ON registry_paths (parent, name);

-- What a manifest is, once per digest (digests never change): the summary columns the tag list shows, and the
-- details (config, layers, history, raw JSON) the tag page shows.
CREATE TABLE IF NOT EXISTS registry_manifests (
    digest        TEXT        PRIMARY KEY,
    media_type    TEXT        NOT NULL,
    kind          TEXT        NOT NULL CHECK (kind IN ('image', 'index')),
    size          BIGINT      NOT NULL,
    created       TIMESTAMPTZ,
    platforms     JSONB       NOT NULL,
    details       JSONB       NOT NULL,
    described_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS registry_tags (
    repository  TEXT        NOT NULL REFERENCES registry_repositories (name) ON DELETE CASCADE,
    tag         TEXT        NOT NULL COLLATE staticreg_natural,
    digest      TEXT        NOT NULL,
    -- The manifest's created time, copied here so "sort by created" is an index scan.
    created     TIMESTAMPTZ,
    PRIMARY KEY (repository, tag)
);
CREATE INDEX IF NOT EXISTS idx_registry_tags_repository_created ON registry_tags (repository, created);
CREATE INDEX IF NOT EXISTS idx_registry_tags_digest ON registry_tags (digest);

-- One row: when the catalog was last listed, and which browse replica runs the crawl passes (a lease).
CREATE TABLE IF NOT EXISTS registry_catalog_state (
    id               INTEGER     PRIMARY KEY CHECK (id = 1),
    listed_at        TIMESTAMPTZ,
    pass_owner       TEXT,
    pass_lease_until TIMESTAMPTZ
);
INSERT INTO registry_catalog_state (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
