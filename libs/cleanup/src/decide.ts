// The cleanup decision: policy + catalog + use -> what goes and why. Pure: no I/O, no clock (now is passed in).
import { daysBetween, firstDayOfLast, utcDayOf, type UtcDay } from '@staticreg/events';
import { globMatcher, tagPatternMatcher, type NameMatcher } from './patterns.js';
import type { CleanupPlan, PlannedDeletion } from './plan.js';
import type { CleanupPolicy, CleanupRule } from './policy.js';

/** A tag as the catalog holds it. */
export interface CatalogTag {
  tag: string;
  digest: string;
  /** ISO instant (the image config's `created`), null when unknown. */
  created: string | null;
}

/** What the plan needs of a manifest the catalog described. */
export interface CatalogManifest {
  digest: string;
  kind: 'image' | 'index';
  created: string | null;
  /** ISO instant the catalog first described it (registry_manifests.described_at): a lower bound of its push. */
  firstSeen?: string | null;
  /** An index's platform manifests (and attestations); [] for an image. */
  children: string[];
  /** Config and layer blobs: an image's own, or every image's of an index. */
  blobs: Array<{ digest: string; size: number }>;
}

/** The last days one digest was pulled and checked in one repository. */
export interface DigestUse {
  digest: string;
  lastPulled: UtcDay | null;
  lastChecked: UtcDay | null;
}

/** One repository's tags and the use of every digest the count tables saw in it. */
export interface RepositorySnapshot {
  repository: string;
  tags: CatalogTag[];
  use: DigestUse[];
}

// Registry digests as distribution writes them; count rows with anything else cannot name a manifest to delete.
const DIGEST = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/;

interface CompiledRule {
  rule: CleanupRule;
  matches: NameMatcher;
  tagPattern: (tag: string) => string | undefined;
}

/** One digest under consideration in one repository. */
interface Candidate {
  digest: string;
  tags: string[];
  created: string | null;
  /** Where the grace of an image never used starts: the later of its creation and the catalog's first sighting. */
  graceFrom: UtcDay | null;
  lastPulled: UtcDay | null;
  lastChecked: UtcDay | null;
}

function later(a: UtcDay | null, b: UtcDay | null): UtcDay | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

/**
 * The later of an image's creation and the catalog's first sighting of it: `created` alone cannot be trusted
 * (reproducible builds stamp 1970 or a fixed date), and the catalog describes a manifest only after it was pushed.
 */
function graceStart(created: string | null, manifest: CatalogManifest | undefined): UtcDay | null {
  if (created === null) return null;
  const createdDay = utcDayOf(Date.parse(created));
  const seen = manifest?.firstSeen;
  return seen ? later(createdDay, utcDayOf(Date.parse(seen))) : createdDay;
}

/** "created D" or "created D, first seen E" when the catalog saw it later than its stamp. */
function neverUsedSince(candidate: Candidate): string {
  const created = candidate.created === null ? null : utcDayOf(Date.parse(candidate.created));
  return created === candidate.graceFrom ? `created ${created}` : `created ${created ?? 'unknown'}, first seen ${candidate.graceFrom}`;
}

/** Why a candidate stays, or undefined when the rule lets it go. */
function keepReason(rule: CompiledRule, candidate: Candidate, newest: ReadonlySet<string>, today: UtcDay): string | undefined {
  const { keepUsedWithinDays, keepNewest, unusedGraceDays } = rule.rule;
  for (const tag of candidate.tags) {
    const pattern = rule.tagPattern(tag);
    if (pattern !== undefined) return `tag ${tag} matches ${pattern}`;
  }
  if (keepNewest !== undefined) {
    const tag = candidate.tags.find((name) => newest.has(name));
    if (tag !== undefined) return `tag ${tag} is among the ${keepNewest} newest`;
  }
  const lastUsed = later(candidate.lastPulled, candidate.lastChecked);
  if (keepUsedWithinDays !== undefined && lastUsed !== null && lastUsed >= firstDayOfLast(keepUsedWithinDays, today)) {
    return `used ${lastUsed} (keep: used within ${keepUsedWithinDays} days)`;
  }
  if (unusedGraceDays !== undefined && lastUsed === null) {
    // Age unknown: only a grace of 0 (none) lets it go.
    if (candidate.graceFrom === null) return unusedGraceDays > 0 ? 'never used, creation unknown' : undefined;
    if (daysBetween(candidate.graceFrom, today) < unusedGraceDays) return `never used, ${neverUsedSince(candidate)} (grace ${unusedGraceDays} days)`;
  }
  return undefined;
}

/** Why the rule lets a candidate go: each keep it fails, in the rule's terms. */
function deletionReason(rule: CleanupRule, candidate: Candidate, today: UtcDay): string {
  const parts: string[] = [];
  if (candidate.tags.length === 0) parts.push('untagged');
  const lastUsed = later(candidate.lastPulled, candidate.lastChecked);
  if (rule.keepUsedWithinDays !== undefined) {
    const since = firstDayOfLast(rule.keepUsedWithinDays, today);
    parts.push(`not pulled or checked since ${since} (keep: used within ${rule.keepUsedWithinDays} days)`);
  }
  if (candidate.tags.length > 0 && rule.keepNewest !== undefined) parts.push(`not among the ${rule.keepNewest} newest tags`);
  if (candidate.tags.length > 0 && rule.keepTags.length > 0) parts.push(`no tag matches ${rule.keepTags.join(', ')}`);
  if (rule.unusedGraceDays !== undefined && lastUsed === null && candidate.graceFrom !== null) {
    parts.push(`never used, ${neverUsedSince(candidate)} (grace ${rule.unusedGraceDays} days)`);
  }
  if (parts.length === 0) parts.push('the rule keeps nothing here');
  if (parts.length === 1 && candidate.tags.length === 0) parts.push('only use and the grace period keep an untagged digest');
  return parts.join('; ');
}

/** The tags a keepNewest of `count` keeps: newest created first, unknown creation last, ties by tag name. */
function newestTags(tags: readonly CatalogTag[], count: number | undefined): Set<string> {
  if (!count) return new Set();
  const sorted = [...tags].sort((a, b) => {
    if (a.created !== b.created) {
      if (a.created === null) return 1;
      if (b.created === null) return -1;
      return a.created > b.created ? -1 : 1;
    }
    return a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0;
  });
  return new Set(sorted.slice(0, count).map((tag) => tag.tag));
}

/** Why nothing is planned in `repository`: the tags whose manifests the catalog has not described. */
function undescribedWarning(repository: string, tags: readonly CatalogTag[], undescribed: ReadonlySet<string>, kept: number): string {
  const names = tags.filter((tag) => undescribed.has(tag.digest)).map((tag) => tag.tag).sort();
  return (
    `${repository}: nothing planned, ${kept} digest${kept === 1 ? '' : 's'} kept: the catalog has not described the manifest of ` +
    `tag${names.length === 1 ? '' : 's'} ${names.join(', ')} (it may be an index listing them); the next catalog crawl does`
  );
}

/**
 * Warnings for rules whose use window reaches before the use history: the first day the count tables hold, or
 * the first day STATICREG_RETENTION_DAYS keeps when that is later. An image used only before it looks never used.
 */
export function shortHistoryWarnings(policy: CleanupPolicy, now: Date, firstCounted: UtcDay | null, retentionDays?: number): string[] {
  const today = utcDayOf(now);
  const retained = retentionDays === undefined ? null : firstDayOfLast(retentionDays, today);
  const historyFrom = later(firstCounted, retained);
  const warnings: string[] = [];
  for (const rule of policy.rules) {
    if (rule.keepUsedWithinDays === undefined) continue;
    const since = firstDayOfLast(rule.keepUsedWithinDays, today);
    if (firstCounted === null) {
      warnings.push(`rule ${rule.name}: the count tables are empty, so every image it matches looks never used`);
    } else if (historyFrom !== null && since < historyFrom) {
      const source = historyFrom === retained && retained !== firstCounted ? `STATICREG_RETENTION_DAYS=${retentionDays} keeps counts from` : 'the count tables start on';
      warnings.push(
        `rule ${rule.name}: keepUsedWithinDays ${rule.keepUsedWithinDays} reaches back to ${since}, but ${source} ${historyFrom}: ` +
          `an image used only before then looks never used`,
      );
    }
  }
  return warnings;
}

/**
 * Builds a plan one repository at a time, so a caller can page through a large catalog; the space freed is
 * settled in finish(), once every kept image of the registry is known (blobs are shared across repositories).
 */
export class CleanupPlanner {
  private readonly rules: CompiledRule[];
  private readonly excluded: NameMatcher;
  private readonly today: UtcDay;
  private readonly deletions: PlannedDeletion[] = [];
  private readonly warnings: string[] = [];
  private readonly keptDigests = new Set<string>();
  private kept = 0;

  constructor(
    private readonly policy: CleanupPolicy,
    private readonly now: Date,
    /** The catalog's description of a digest, when it has one. */
    private readonly manifestOf: (digest: string) => CatalogManifest | undefined,
  ) {
    this.rules = policy.rules.map((rule) => ({ rule, matches: globMatcher(rule.repositories), tagPattern: tagPatternMatcher(rule.keepTags) }));
    this.excluded = globMatcher(policy.exclude);
    this.today = utcDayOf(now);
  }

  /** The rule that governs `repository`: undefined when excluded or matched by no rule (then everything stays). */
  ruleFor(repository: string): CleanupRule | undefined {
    return this.compiledRuleFor(repository)?.rule;
  }

  private compiledRuleFor(repository: string): CompiledRule | undefined {
    return this.excluded(repository) ? undefined : this.rules.find((rule) => rule.matches(repository));
  }

  addRepository(snapshot: RepositorySnapshot): void {
    const { repository } = snapshot;
    const children = (digest: string) => this.manifestOf(digest)?.children ?? [];
    const byDigest = new Map<string, Candidate>();
    for (const tag of snapshot.tags) {
      let candidate = byDigest.get(tag.digest);
      if (!candidate) {
        const manifest = this.manifestOf(tag.digest);
        const created = tag.created ?? manifest?.created ?? null;
        byDigest.set(tag.digest, (candidate = { digest: tag.digest, tags: [], created, graceFrom: graceStart(created, manifest), lastPulled: null, lastChecked: null }));
      }
      candidate.tags.push(tag.tag);
    }
    const use = new Map(snapshot.use.map((row) => [row.digest, row]));
    // Untagged: digests the counts saw here that no tag points to, except platforms of an index (they go with it).
    const platformOf = new Map<string, string[]>();
    const indexes = [...byDigest.keys(), ...use.keys()];
    for (const index of indexes) for (const child of children(index)) platformOf.set(child, [...(platformOf.get(child) ?? []), index]);
    // A tagged manifest the catalog has not described may be an index whose platforms we cannot see: any digest
    // here, tagged or not, may be one of them, so nothing is planned until the catalog describes every tag.
    const undescribed = new Set([...byDigest.keys()].filter((digest) => this.manifestOf(digest) === undefined));
    let keptUntagged = 0;
    for (const row of snapshot.use) {
      if (byDigest.has(row.digest) || platformOf.has(row.digest) || !DIGEST.test(row.digest)) continue;
      if (undescribed.size > 0) {
        keptUntagged += 1;
        this.kept += 1;
        this.keptDigests.add(row.digest);
        continue;
      }
      const manifest = this.manifestOf(row.digest);
      const created = manifest?.created ?? null;
      byDigest.set(row.digest, { digest: row.digest, tags: [], created, graceFrom: graceStart(created, manifest), lastPulled: null, lastChecked: null });
    }
    // An index's use covers its platforms and the reverse.
    for (const candidate of byDigest.values()) {
      for (const related of [candidate.digest, ...children(candidate.digest), ...(platformOf.get(candidate.digest) ?? [])]) {
        const row = use.get(related);
        if (!row) continue;
        candidate.lastPulled = later(candidate.lastPulled, row.lastPulled);
        candidate.lastChecked = later(candidate.lastChecked, row.lastChecked);
      }
    }

    const compiled = this.compiledRuleFor(repository);
    const keep = (candidate: Candidate) => {
      this.kept += 1;
      this.keptDigests.add(candidate.digest);
      for (const child of children(candidate.digest)) this.keptDigests.add(child);
    };
    if (!compiled || undescribed.size > 0) {
      for (const candidate of byDigest.values()) keep(candidate);
      if (compiled) this.warnings.push(undescribedWarning(repository, snapshot.tags, undescribed, byDigest.size + keptUntagged));
      return;
    }
    const newest = newestTags(snapshot.tags, compiled.rule.keepNewest);
    const going: Candidate[] = [];
    const staying = new Set<string>();
    for (const candidate of byDigest.values()) {
      const reason = keepReason(compiled, candidate, newest, this.today);
      if (reason === undefined) going.push(candidate);
      else {
        staying.add(candidate.digest);
        keep(candidate);
      }
    }
    // A platform of a kept index stays whatever its own tags say: deleting it would break the index.
    const keptPlatforms = new Set([...staying].flatMap(children));
    for (const candidate of going) {
      if (keptPlatforms.has(candidate.digest)) {
        keep(candidate);
        continue;
      }
      this.deletions.push({
        repository,
        digest: candidate.digest,
        tags: [...candidate.tags].sort(),
        rule: compiled.rule.name,
        reason: deletionReason(compiled.rule, candidate, this.today),
        lastPulled: candidate.lastPulled,
        lastChecked: candidate.lastChecked,
        created: candidate.created,
        freesBytes: 0,
      });
    }
  }

  /** The plan: each deletion with the bytes of its blobs no kept image shares, and the distinct total. */
  finish(plannedAt: Date = this.now): CleanupPlan {
    const keptBlobs = new Set<string>();
    for (const digest of this.keptDigests) for (const blob of this.manifestOf(digest)?.blobs ?? []) keptBlobs.add(blob.digest);
    const freed = new Map<string, number>();
    for (const deletion of this.deletions) {
      // An index lists a layer its platforms share once per platform: count it once.
      const own = new Map<string, number>();
      for (const blob of this.manifestOf(deletion.digest)?.blobs ?? []) if (!keptBlobs.has(blob.digest)) own.set(blob.digest, blob.size);
      for (const [blob, size] of own) freed.set(blob, size);
      deletion.freesBytes = [...own.values()].reduce((sum, size) => sum + size, 0);
    }
    this.deletions.sort((a, b) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
    return {
      plannedAt: plannedAt.toISOString(),
      policyFile: this.policy.file,
      deletions: this.deletions,
      kept: this.kept,
      freesBytes: [...freed.values()].reduce((sum, size) => sum + size, 0),
      warnings: this.warnings,
    };
  }
}

/** The whole decision over an in-memory catalog: what planCleanup computes, for callers that hold the rows. */
export function decideCleanup(
  policy: CleanupPolicy,
  catalog: { repositories: RepositorySnapshot[]; manifests: CatalogManifest[] },
  now: Date,
): CleanupPlan {
  const manifests = new Map(catalog.manifests.map((manifest) => [manifest.digest, manifest]));
  const planner = new CleanupPlanner(policy, now, (digest) => manifests.get(digest));
  for (const snapshot of catalog.repositories) planner.addRepository(snapshot);
  return planner.finish();
}
