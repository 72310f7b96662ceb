// The cleanup policy: the YAML file people write, validated once at load with errors naming line and field.
import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isScalar, parseDocument, type Document } from 'yaml';
import { z } from 'zod';

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
  /**
   * An image never used is kept until its creation + N days (and kept when its creation is unknown).
   * Defaults to keepUsedWithinDays when that is given.
   */
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

const pattern = z.string().trim().min(1, 'must be a non-empty pattern');
const days = (minimum: number) => z.number().int('must be a whole number of days').min(minimum, `must be ${minimum} or more`);

const ruleSchema = z
  .strictObject({
    name: z.string().trim().min(1, 'must not be empty').optional(),
    repositories: z.array(pattern).min(1, 'must list at least one repository pattern'),
    keepUsedWithinDays: days(1).optional(),
    keepNewest: z.number().int('must be a whole number').min(0, 'must be 0 or more').optional(),
    keepTags: z.array(pattern).optional(),
    unusedGraceDays: days(0).optional(),
  })
  .superRefine((rule, context) => {
    // keepTags: [] keeps no tag and a grace of 0 days keeps no image: alone, like no keep field at all, they keep
    // nothing. A rule that keeps nothing deletes every image it matches; make that a written choice, not a typo.
    const keeps = rule.keepUsedWithinDays !== undefined || rule.keepNewest !== undefined || (rule.keepTags?.length ?? 0) > 0 || (rule.unusedGraceDays ?? 0) > 0;
    if (keeps) return;
    const field = rule.keepTags !== undefined ? 'keepTags' : rule.unusedGraceDays !== undefined ? 'unusedGraceDays' : undefined;
    const why = field === 'keepTags' ? 'keepTags: [] keeps no tag, so the rule keeps nothing' : field === 'unusedGraceDays' ? 'unusedGraceDays: 0 keeps no image, so the rule keeps nothing' : 'keeps nothing';
    context.addIssue({
      code: 'custom',
      path: field ? [field] : [],
      message: `${why}: give at least one of keepUsedWithinDays, keepNewest, keepTags (a pattern), unusedGraceDays (1 or more) (keepNewest: 0 to delete all it matches)`,
    });
  });

const policySchema = z.strictObject({
  exclude: z.array(pattern).optional(),
  rules: z.array(ruleSchema).min(1, 'must list at least one rule'),
});

type Path = readonly PropertyKey[];

function fieldName(path: Path): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
  return out === '' ? '(top level)' : out;
}

/** The line of the node at `path`, or of its nearest ancestor the document has. */
function lineOf(document: Document, lines: LineCounter, path: Path): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = document.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return lines.linePos(node.range[0]).line;
  }
  return 1;
}

/** The line of an unknown key inside the map at `path`. */
function lineOfKey(document: Document, lines: LineCounter, path: Path, key: string): number {
  const map = path.length === 0 ? document.contents : document.getIn(path as unknown[], true);
  if (isMap(map)) {
    for (const pair of map.items) {
      if (isScalar(pair.key) && pair.key.value === key && pair.key.range) return lines.linePos(pair.key.range[0]).line;
    }
  }
  return lineOf(document, lines, path);
}

interface Problem {
  line: number;
  field: string;
  message: string;
}

function fail(file: string, problems: Problem[]): never {
  problems.sort((a, b) => a.line - b.line);
  const text = problems.map((problem) => `${file}:${problem.line}: ${problem.field}: ${problem.message}`).join('\n');
  throw new PolicyError(text, file, problems[0]?.line, problems[0]?.field);
}

/** Parses and validates a policy file's text; throws PolicyError naming line and field. */
export function parsePolicy(text: string, file: string): CleanupPolicy {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (document.errors.length > 0) {
    fail(file, document.errors.map((error) => ({
      line: error.linePos?.[0].line ?? 1,
      field: '(syntax)',
      // yaml's message ends with the position and a code frame; the line is reported in front instead.
      message: (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, ''),
    })));
  }
  const value: unknown = document.toJS();
  if (value === null || value === undefined) fail(file, [{ line: 1, field: '(top level)', message: 'the policy file is empty' }]);
  const parsed = policySchema.safeParse(value);
  if (!parsed.success) {
    fail(file, parsed.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        const key = issue.keys[0] ?? '';
        return { line: lineOfKey(document, lines, issue.path, key), field: fieldName([...issue.path, key]), message: `unknown field (${issue.keys.join(', ')})` };
      }
      return { line: lineOf(document, lines, issue.path), field: fieldName(issue.path), message: issue.message };
    }));
  }
  const rules = parsed.data.rules.map((rule, index): CleanupRule => {
    // A new image nobody has pulled yet gets as long as a used one would: never deleted the day it is pushed.
    const graceDays = rule.unusedGraceDays ?? rule.keepUsedWithinDays;
    return {
      name: rule.name ?? `rules[${index}]`,
      repositories: rule.repositories,
      ...(rule.keepUsedWithinDays !== undefined ? { keepUsedWithinDays: rule.keepUsedWithinDays } : {}),
      ...(rule.keepNewest !== undefined ? { keepNewest: rule.keepNewest } : {}),
      keepTags: rule.keepTags ?? [],
      ...(graceDays !== undefined ? { unusedGraceDays: graceDays } : {}),
    };
  });
  const seen = new Map<string, number>();
  const duplicates: Problem[] = [];
  rules.forEach((rule, index) => {
    const first = seen.get(rule.name);
    if (first === undefined) seen.set(rule.name, index);
    else duplicates.push({ line: lineOf(document, lines, ['rules', index, 'name']), field: `rules[${index}].name`, message: `"${rule.name}" is already the name of rules[${first}]` });
  });
  if (duplicates.length > 0) fail(file, duplicates);
  return { file, exclude: parsed.data.exclude ?? [], rules };
}

/** Reads and validates the policy file at `path`. */
export async function loadPolicy(path: string): Promise<CleanupPolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PolicyError(`${path}: cannot read the policy file: ${(error as Error).message}`, path, undefined, undefined);
  }
  return parsePolicy(text, path);
}
