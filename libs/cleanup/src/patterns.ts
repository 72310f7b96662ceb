// The policy's name patterns: globs over repository paths and tags, and the `semver` shorthand for tags.

// semver.org's grammar with an optional leading v; build metadata (+...) cannot appear in a registry tag.
const SEMANTIC_VERSION = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?$/;

/** A glob as a regular expression: `**` crosses `/`, `*` stays within a segment, `?` is one character. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === '*' && glob[i + 1] === '*') {
      i++;
      // `a/**/b` also matches `a/b`: the segments `**` stands for may be none.
      if (glob[i + 1] === '/') {
        i++;
        source += '(?:.*/)?';
      } else source += '.*';
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** True when `name` matches one of the globs. */
export type NameMatcher = (name: string) => boolean;

export function globMatcher(globs: readonly string[]): NameMatcher {
  const expressions = globs.map(globToRegExp);
  return (name) => expressions.some((expression) => expression.test(name));
}

export function isSemanticVersion(tag: string): boolean {
  return SEMANTIC_VERSION.test(tag);
}

/** For a tag, the first of `patterns` it matches (`semver`: a semantic version), or undefined. */
export function tagPatternMatcher(patterns: readonly string[]): (tag: string) => string | undefined {
  const tests = patterns.map((pattern) => {
    const expression = pattern === 'semver' ? SEMANTIC_VERSION : globToRegExp(pattern);
    return (tag: string) => expression.test(tag);
  });
  return (tag) => patterns[tests.findIndex((test) => test(tag))];
}
