// Fills the Postgres catalog with the generated registry in bulk (what the crawler's saveRepository calls would write,
// minus 100,000 transactions), plus 30 days of pulls and checks for the big repository.
import { sql, type Kysely } from 'kysely';
import type { Database } from '@staticreg/db';
import { PostgresCatalogStore, type ManifestDetails } from '@staticreg/catalog';
import { BIG_REPOSITORY, REPOSITORIES, repositoryName, repositoryTags } from './generate.js';

const CHUNK = 50_000;

export async function fillPostgresCatalog(db: Kysely<Database>, names: string[], manifests: ManifestDetails[], targetDigests: string[]): Promise<PostgresCatalogStore> {
  const store = new PostgresCatalogStore(db, { owner: 'bench' });
  await store.syncRepositoryNames(names, Date.now());
  for (const details of manifests) await store.putDetails(details);
  let repositories: string[] = [];
  let tags: string[] = [];
  let digests: string[] = [];
  const flush = async (): Promise<void> => {
    if (tags.length === 0) return;
    await sql`
      insert into registry_tags (repository, tag, digest, created)
      select r.repository, r.tag, r.digest, m.created
      from unnest(${repositories}::text[], ${tags}::text[], ${digests}::text[]) as r(repository, tag, digest)
      left join registry_manifests m on m.digest = r.digest`.execute(db);
    repositories = [];
    tags = [];
    digests = [];
  };
  for (let i = 0; i < REPOSITORIES; i += 1) {
    const name = repositoryName(i);
    for (const [tag, target] of repositoryTags(i)) {
      repositories.push(name);
      tags.push(tag);
      digests.push(targetDigests[target]!);
    }
    if (tags.length >= CHUNK) await flush();
  }
  await flush();
  await sql`
    update registry_repositories r set tag_count = c.n, refreshed_at = now(), error = null
    from (select repository, count(*)::int as n from registry_tags group by repository) c where r.name = c.repository`.execute(db);
  await sql`
    update registry_paths p set tags = s.tags
    from (
      select array_to_string((string_to_array(name, '/'))[1:k], '/') as path, sum(tag_count) as tags
      from registry_repositories, generate_series(1, array_length(string_to_array(name, '/'), 1)) as k
      group by 1
    ) s where p.path = s.path`.execute(db);
  // Usage of the big repository: 30 days, the first 2,000 tags pulled and the next 2,000 checked, once a day each.
  await sql`
    insert into container_pull_metrics (pull_date, repo_name, tag, digest, architecture, pull_count)
    select current_date - d, ${BIG_REPOSITORY}, 'build-' || t, 'sha256:bench', 'amd64', 1 + (t % 7)
    from generate_series(0, 29) d, generate_series(0, 1999) t`.execute(db);
  await sql`
    insert into container_pull_checks (pull_date, repo_name, tag, digest, architecture, check_count)
    select current_date - d, ${BIG_REPOSITORY}, 'build-' || t, 'sha256:bench', 'amd64', 3
    from generate_series(0, 29) d, generate_series(2000, 3999) t`.execute(db);
  // As autovacuum leaves a table after a crawl wrote it: statistics, and the visibility map for index-only scans.
  await sql`vacuum analyze`.execute(db);
  return store;
}
