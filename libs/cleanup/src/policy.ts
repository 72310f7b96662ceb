// The cleanup policy: the YAML file people write, validated once at load with errors naming line and field.
/** One rule: the repositories it governs and what it keeps there; everything else in them may go. */
export interface CleanupRule {
  /** Its `name` in the file, or `rules[<i>]` when unnamed. */
  name: string;
  /** Glob patterns over repository names: `*` within a path segment, `**` across segments. */
  repositories: string[];
  /** Keep what was pulled or checked on one of the last N UTC days (today included). */
  keepUsedWithinDays?: number;
  /** Keep the newest K tags of each repository, by creation. Tags only. */
  keepNewest?: number;
  /** Keep tags matching one of these globs; `semver` stands for semantic-version tags. Tags only. */
  keepTags: string[];
  /** An image never used is kept until its creation + N days (and kept when its creation is unknown). */
  unusedGraceDays?: number;
}

export interface CleanupPolicy {
  /** Where the policy was read from, for the plan and its errors. */
  file: string;
  /** Repositories never touched, whatever the rules say. */
  exclude: string[];
  /** The first rule whose patterns match a repository applies to it; a repository no rule matches is kept. */
  rules: CleanupRule[];
}

/** A policy file that cannot be used: the message names the file, the line and the field. */
export class PolicyError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number | undefined,
    readonly field: string | undefined,
  ) {
    super(message);
    this.name = 'PolicyError';
  }
}

/** Parses and validates a policy file's text; throws PolicyError naming line and field. */
export function parsePolicy(text: string, file: string): CleanupPolicy {
  throw new PolicyError(`${file}: parsePolicy is not implemented yet (${text.length} characters)`, file, undefined, undefined);
}

/** Reads and validates the policy file at `path`. */
export async function loadPolicy(path: string): Promise<CleanupPolicy> {
  const { readFile } = await import('node:fs/promises');
  return parsePolicy(await readFile(path, 'utf8'), path);
}
