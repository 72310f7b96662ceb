// The proxy mode's rules file (JSON): which users and groups see which repositories, validated once at start.
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

/** One rule: these users and members of these groups see the repositories matching these patterns. */
export interface AccessRule {
  users: string[];
  groups: string[];
  /** `team-a/*` (everything under team-a/), `*` (everything), `*-base` (`*` is any run of characters), or a name. */
  repositories: string[];
}

const name = z.string().trim().min(1, 'must not be empty').max(256, 'must be at most 256 characters');
const pattern = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .regex(/^[a-z0-9._/*-]+$/, 'may hold only the characters of repository names, and *');

const rulesSchema = z
  .object({
    rules: z.array(
      z
        .object({
          users: z.array(name).default([]),
          groups: z.array(name).default([]),
          repositories: z.array(pattern).min(1, 'must name at least one repository pattern'),
        })
        .strict()
        .refine((rule) => rule.users.length + rule.groups.length > 0, { message: 'must name at least one user or group' }),
    ),
  })
  .strict();

/** "line 3, column 7" of a character offset, for JSON syntax errors. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** The field a zod issue is about, as `rules[2].repositories[0]`. */
function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`)).join('') || '(top level)';
}

/** Parses the rules file's text; a problem is thrown as a message naming the line (syntax) or the field (content). */
export function parseAccessRules(text: string): AccessRule[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    throw new Error(`is not valid JSON${position ? ` at ${lineAndColumn(text, Number(position[1]))}` : ''}: ${message}`);
  }
  const result = rulesSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`${fieldPath(issue.path)}: ${issue.message}`);
  }
  return result.data.rules;
}

/** Checks a comma list of CIDR ranges (or single addresses) as node's BlockList takes them; returns a problem or undefined. */
export function checkCidr(entry: string): string | undefined {
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return `${JSON.stringify(entry)} is not an address or CIDR range`;
  if (prefix === undefined) return undefined;
  const bits = Number(prefix);
  if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) return `${JSON.stringify(entry)} has a bad prefix length`;
  try {
    new BlockList().addSubnet(address!, bits, family === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return `${JSON.stringify(entry)} is not a CIDR range`;
  }
  return undefined;
}
