import { expect } from 'chai';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyError, loadPolicy, parsePolicy } from './policy.js';

/** The PolicyError parsePolicy throws for `text`. */
function errorOf(text: string): PolicyError {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    expect(error).to.be.instanceOf(PolicyError);
    return error as PolicyError;
  }
  throw new Error('the policy was accepted');
}

describe('the cleanup policy file', () => {
  it('reads every field, with names and defaults', () => {
    const policy = parsePolicy(
      [
        'exclude: ["base/*"]',
        'rules:',
        '  - name: short-lived-ci',
        '    repositories: ["ci/**"]',
        '    keepUsedWithinDays: 14',
        '    keepNewest: 3',
        '    keepTags: ["latest", "semver"]',
        '    unusedGraceDays: 7',
        '  - repositories: ["**"]',
        '    keepNewest: 10',
      ].join('\n'),
      'policy.yaml',
    );
    expect(policy).to.deep.equal({
      file: 'policy.yaml',
      exclude: ['base/*'],
      rules: [
        { name: 'short-lived-ci', repositories: ['ci/**'], keepUsedWithinDays: 14, keepNewest: 3, keepTags: ['latest', 'semver'], unusedGraceDays: 7 },
        { name: 'rules[1]', repositories: ['**'], keepNewest: 10, keepTags: [] },
      ],
    });
  });

  it('gives a never-used image the use window as its grace period unless one is written', () => {
    const policy = parsePolicy('rules:\n  - repositories: [a]\n    keepUsedWithinDays: 30\n', 'p.yaml');
    expect(policy.rules[0]).to.deep.equal({ name: 'rules[0]', repositories: ['a'], keepUsedWithinDays: 30, keepTags: [], unusedGraceDays: 30 });
    expect(parsePolicy('rules:\n  - repositories: [a]\n    keepUsedWithinDays: 30\n    unusedGraceDays: 0\n', 'p.yaml').rules[0]?.unusedGraceDays).to.equal(0);
  });

  const cases: Array<{ what: string; text: string; line: number; field: string; message: RegExp }> = [
    { what: 'a YAML syntax error', text: 'rules:\n  - repositories: [a\n', line: 3, field: '(syntax)', message: /flow sequence/i },
    { what: 'an empty file', text: '', line: 1, field: '(top level)', message: /empty/ },
    { what: 'a list at the top', text: '- a\n- b\n', line: 1, field: '(top level)', message: /expected object/ },
    { what: 'no rules', text: 'exclude: [a]\n', line: 1, field: 'rules', message: /expected array/ },
    { what: 'an empty rule list', text: 'exclude: [a]\nrules: []\n', line: 2, field: 'rules', message: /at least one rule/ },
    { what: 'an unknown top-level field', text: 'rules:\n  - repositories: [a]\n    keepNewest: 1\nexcludes: [b]\n', line: 4, field: 'excludes', message: /unknown field/ },
    { what: 'an unknown rule field', text: 'rules:\n  - repositories: [a]\n    keepNewest: 1\n    keepLatest: 2\n', line: 4, field: 'rules[0].keepLatest', message: /unknown field/ },
    { what: 'a negative count', text: 'rules:\n  - repositories: [a]\n\n    keepNewest: -1\n', line: 4, field: 'rules[0].keepNewest', message: /0 or more/ },
    { what: 'a fractional day count', text: 'rules:\n  - repositories: [a]\n    keepUsedWithinDays: 1.5\n', line: 3, field: 'rules[0].keepUsedWithinDays', message: /whole number/ },
    { what: 'zero days of use', text: 'rules:\n  - repositories: [a]\n    keepUsedWithinDays: 0\n', line: 3, field: 'rules[0].keepUsedWithinDays', message: /1 or more/ },
    { what: 'a quoted number', text: 'rules:\n  - repositories: [a]\n    unusedGraceDays: "7"\n', line: 3, field: 'rules[0].unusedGraceDays', message: /expected number/ },
    { what: 'a rule without repositories', text: 'rules:\n  - name: x\n    keepNewest: 1\n', line: 2, field: 'rules[0].repositories', message: /expected array/ },
    { what: 'an empty pattern', text: 'rules:\n  - repositories: [a]\n    keepTags:\n      - latest\n      - ""\n', line: 5, field: 'rules[0].keepTags[1]', message: /non-empty pattern/ },
    { what: 'an empty exclude pattern', text: 'exclude: ["  "]\nrules:\n  - repositories: [a]\n    keepNewest: 1\n', line: 1, field: 'exclude[0]', message: /non-empty pattern/ },
    { what: 'a rule that keeps nothing', text: 'rules:\n  - repositories: [a]\n    keepNewest: 1\n  - name: all\n    repositories: [b]\n', line: 4, field: 'rules[1]', message: /keeps nothing/ },
    { what: 'a rule whose only keep is keepTags: []', text: 'rules:\n  - repositories: [a]\n    keepTags: []\n', line: 3, field: 'rules[0].keepTags', message: /keepTags: \[\] keeps no tag, so the rule keeps nothing/ },
    { what: 'a rule whose only keep is unusedGraceDays: 0', text: 'rules:\n  - repositories: [a]\n    unusedGraceDays: 0\n', line: 3, field: 'rules[0].unusedGraceDays', message: /unusedGraceDays: 0 keeps no image/ },
    { what: 'a rule with keepTags: [] and unusedGraceDays: 0', text: 'rules:\n  - repositories: [a]\n    keepTags: []\n    unusedGraceDays: 0\n', line: 3, field: 'rules[0].keepTags', message: /keeps nothing/ },
    { what: 'two rules with one name', text: 'rules:\n  - name: a\n    repositories: [a]\n    keepNewest: 1\n  - name: a\n    repositories: [b]\n    keepNewest: 1\n', line: 5, field: 'rules[1].name', message: /already the name of rules\[0\]/ },
    { what: 'a key written twice', text: 'rules:\n  - repositories: [a]\n    keepNewest: 1\n    keepNewest: 2\n', line: 4, field: '(syntax)', message: /unique/i },
  ];
  for (const { what, text, line, field, message } of cases) {
    it(`names the line and the field of ${what}`, () => {
      const error = errorOf(text);
      expect({ line: error.line, field: error.field }).to.deep.equal({ line, field });
      expect(error.message).to.match(message);
      expect(error.message).to.contain(`policy.yaml:${line}: ${field}: `);
    });
  }

  it('accepts keepNewest: 0 as the written choice to delete everything a rule matches, and a grace of 0 beside a use window', () => {
    expect(parsePolicy('rules:\n  - repositories: [a]\n    keepNewest: 0\n', 'policy.yaml').rules[0]).to.include({ keepNewest: 0 });
    expect(parsePolicy('rules:\n  - repositories: [a]\n    keepNewest: 0\n    keepTags: []\n', 'policy.yaml').rules[0]?.keepTags).to.deep.equal([]);
    expect(parsePolicy('rules:\n  - repositories: [a]\n    keepUsedWithinDays: 7\n    unusedGraceDays: 0\n', 'policy.yaml').rules[0]).to.include({ unusedGraceDays: 0 });
  });

  it('reports every problem, in line order', () => {
    const error = errorOf('rules:\n  - repositories: []\n    keepNewest: -2\n    color: red\n');
    expect(error.message.split('\n').map((line) => line.split(': ').slice(0, 2).join(': '))).to.deep.equal([
      'policy.yaml:2: rules[0].repositories',
      'policy.yaml:3: rules[0].keepNewest',
      'policy.yaml:4: rules[0].color',
    ]);
  });

  it('loads a file, and says which file it cannot read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'staticreg-policy-'));
    const path = join(dir, 'cleanup.yaml');
    await writeFile(path, 'rules:\n  - repositories: ["**"]\n    keepNewest: 2\n');
    expect((await loadPolicy(path)).rules[0]?.keepNewest).to.equal(2);
    const missing = join(dir, 'missing.yaml');
    await loadPolicy(missing).then(
      () => expect.fail('a missing file was accepted'),
      (error: PolicyError) => expect(error.message).to.contain(missing).and.contain('cannot read'),
    );
  });
});
