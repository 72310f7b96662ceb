// The baseline of the cleanup bench: the same plan as one plain SQL query, with the policy's globs as regexes.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '@staticreg/db';
import { globToRegExp, type CleanupPolicy } from '@staticreg/cleanup';

export interface BaselineDeletion {
  repository: string;
  digest: string;
  rule: string;
  tags: string[];
  lastPulled: string | null;
  lastChecked: string | null;
  freesBytes: number;
}

// Postgres' regexes (ARE) read the JS sources globToRegExp writes: ^, $, (?:...), [^/], .*, \. escapes.
const anyOf = (globs: readonly string[]): string | null => (globs.length === 0 ? null : globs.map((glob) => globToRegExp(glob).source).join('|'));
const SEMVER = String.raw`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?$`;
const tagRegex = (patterns: readonly string[]): string | null =>
  patterns.length === 0 ? null : patterns.map((pattern) => (pattern === 'semver' ? SEMVER : globToRegExp(pattern).source)).join('|');

/** What the policy deletes on `today`, computed by Postgres alone. */
export async function baselinePlan(db: Kysely<Database>, policy: CleanupPolicy, today: string): Promise<BaselineDeletion[]> {
  return (await baselineQuery(policy, today).execute(db)).rows;
}

/** The query itself, for EXPLAIN. */
export function baselineQuery(policy: CleanupPolicy, today: string): RawBuilder<BaselineDeletion> {
  const rules = policy.rules;
  return sql<BaselineDeletion>`
    with rules as (
      select * from unnest(
        ${rules.map((_, i) => i)}::int[], ${rules.map((rule) => rule.name)}::text[], ${rules.map((rule) => anyOf(rule.repositories))}::text[],
        ${rules.map((rule) => rule.keepUsedWithinDays ?? null)}::int[], ${rules.map((rule) => rule.keepNewest ?? null)}::int[],
        ${rules.map((rule) => tagRegex(rule.keepTags))}::text[], ${rules.map((rule) => rule.unusedGraceDays ?? null)}::int[]
      ) as r(no, name, repo_re, used_days, newest, tag_re, grace)
    ),
    repos as (
      select p.name as repository, g.name as rule, g.used_days, g.newest, g.tag_re, g.grace
      from registry_repositories p
      left join lateral (
        select * from rules r where p.name ~ r.repo_re and not coalesce(p.name ~ ${anyOf(policy.exclude)}::text, false) order by r.no limit 1
      ) g on true
    ),
    children as (
      select m.digest as parent, c.child
      from registry_manifests m, jsonb_array_elements_text(jsonb_path_query_array(m.details, '$.children[*].digest')) as c(child)
    ),
    blobs as (
      select m.digest, b->>'digest' as blob, (b->>'size')::bigint as size
      from registry_manifests m, jsonb_array_elements(case when m.kind = 'index'
        then jsonb_path_query_array(m.details, '$.images[*].configDescriptor') || jsonb_path_query_array(m.details, '$.images[*].layers[*]')
        else jsonb_path_query_array(m.details, '$.configDescriptor') || jsonb_path_query_array(m.details, '$.layers[*]') end) as b
      where b->>'digest' <> ''
    ),
    use as (
      select coalesce(p.repository, c.repository) as repository, coalesce(p.digest, c.digest) as digest, p.pulled, c.checked
      from (select repo_name as repository, digest, max(pull_date) as pulled from container_pull_metrics group by 1, 2) p
      full join (select repo_name as repository, digest, max(pull_date) as checked from container_pull_checks group by 1, 2) c
        on c.repository = p.repository and c.digest = p.digest
    ),
    ranked as (
      select t.*, row_number() over (partition by t.repository order by t.created desc nulls last, t.tag collate "C") as rank
      from registry_tags t
    ),
    tagged as (
      select r.repository, r.digest, array_agg(r.tag order by r.tag collate "C") as tags, max(r.created) as created,
        coalesce(bool_or(r.tag ~ p.tag_re), false) as by_tag, coalesce(bool_or(r.rank <= p.newest), false) as by_newest
      from ranked r join repos p using (repository)
      group by r.repository, r.digest
    ),
    seen as (
      select repository, digest from tagged
      union select u.repository, u.digest from use u join repos using (repository)
    ),
    untagged as (
      select u.repository, u.digest from use u join repos using (repository)
      where u.digest ~ '^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$'
        and not exists (select 1 from tagged t where t.repository = u.repository and t.digest = u.digest)
        and not exists (select 1 from seen s join children c on c.parent = s.digest where s.repository = u.repository and c.child = u.digest)
        -- None while a tag points to a manifest the catalog has not described (it may be an index listing them).
        and not exists (select 1 from tagged t left join registry_manifests m using (digest) where t.repository = u.repository and m.digest is null)
    ),
    candidates as (
      select t.repository, t.digest, t.tags, coalesce(t.created, m.created) as created, m.described_at as seen_at, t.by_tag, t.by_newest
      from tagged t left join registry_manifests m using (digest)
      union all
      select u.repository, u.digest, '{}'::text[], m.created, m.described_at, false, false from untagged u left join registry_manifests m using (digest)
    ),
    -- Each candidate's own use, its platforms' and the indexes' (seen in its repository) that list it.
    related as (
      select repository, digest, digest as related from candidates
      union select c.repository, c.digest, ch.child from candidates c join children ch on ch.parent = c.digest
      union select c.repository, c.digest, ch.parent from candidates c join children ch on ch.child = c.digest
        join seen s on s.repository = c.repository and s.digest = ch.parent
    ),
    related_use as (
      select r.repository, r.digest, max(u.pulled) as pulled, max(u.checked) as checked
      from related r join use u on u.repository = r.repository and u.digest = r.related
      group by r.repository, r.digest
    ),
    decided as (
      select c.repository, c.digest, c.tags, p.rule, ru.pulled, ru.checked,
        -- Nothing goes while a tag points to a manifest the catalog has not described (it may be an index listing them).
        p.rule is not null
        and not exists (select 1 from tagged t left join registry_manifests m using (digest) where t.repository = c.repository and m.digest is null)
        and not (
          c.by_tag or c.by_newest
          or coalesce(greatest(ru.pulled, ru.checked) >= ${today}::date - (p.used_days - 1), false)
          or coalesce(p.grace is not null and ru.pulled is null and ru.checked is null and (
            (c.created is null and p.grace > 0)
            or (c.created is not null and ${today}::date
              - greatest((c.created at time zone 'utc')::date, (c.seen_at at time zone 'utc')::date) < p.grace)), false)
        ) as goes
      from candidates c join repos p using (repository) left join related_use ru using (repository, digest)
    ),
    deleted as (
      select d.* from decided d
      where d.goes and not exists (
        select 1 from decided k join children ch on ch.parent = k.digest
        where k.repository = d.repository and not k.goes and ch.child = d.digest)
    ),
    kept_blobs as (
      select distinct b.blob from blobs b
      where b.digest in (
        select digest from decided where not goes
        union select ch.child from decided k join children ch on ch.parent = k.digest where not k.goes)
    ),
    frees as (
      select repository, digest, sum(size) as bytes
      from (select distinct d.repository, d.digest, b.blob, b.size from deleted d join blobs b on b.digest = d.digest
        where not exists (select 1 from kept_blobs k where k.blob = b.blob)) freed
      group by repository, digest
    )
    select d.repository, d.digest, d.rule, d.tags,
      to_char(d.pulled, 'YYYY-MM-DD') as "lastPulled", to_char(d.checked, 'YYYY-MM-DD') as "lastChecked",
      coalesce(f.bytes, 0)::bigint as "freesBytes"
    from deleted d left join frees f using (repository, digest)
    order by d.repository collate "C", d.digest collate "C"`;
}
