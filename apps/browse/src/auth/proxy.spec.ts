import { expect } from 'chai';
import { isTrustedAddress, patternMatcher, patternsFor, trustedProxyList } from './proxy.js';

describe('proxy mode rules', () => {
  it('matches repository patterns: a folder and below, everything, a wildcard inside a name, an exact name', () => {
    const matches = patternMatcher(['team-a/*', 'tools/*-base', 'solo']);
    for (const name of ['team-a/app', 'team-a/x/y', 'tools/debian-base', 'solo']) expect(matches(name), name).to.equal(true);
    for (const name of ['team-a', 'team-ab/app', 'tools/debian-base2', 'solo/x', 'xsolo', 'team-b/app']) expect(matches(name), name).to.equal(false);
    expect(patternMatcher(['*'])('any/thing')).to.equal(true);
    expect(patternMatcher([])('any')).to.equal(false);
    // Dots are literal, not "any character".
    expect(patternMatcher(['a.b'])('axb')).to.equal(false);
  });

  it('collects the patterns of the rules naming the user or one of their groups', () => {
    const rules = [
      { users: ['alice'], groups: [], repositories: ['team-a/*'] },
      { users: [], groups: ['platform'], repositories: ['infra/*'] },
      { users: ['bob'], groups: ['sales'], repositories: ['team-b/*'] },
    ];
    expect(patternsFor(rules, 'alice', ['platform'])).to.deep.equal(['team-a/*', 'infra/*']);
    expect(patternsFor(rules, 'carol', ['sales'])).to.deep.equal(['team-b/*']);
    expect(patternsFor(rules, 'dave', [])).to.deep.equal([]);
  });

  it('trusts only the listed addresses, IPv4 clients of a dual-stack socket included', () => {
    const list = trustedProxyList(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
    expect(isTrustedAddress(list, '10.2.3.4')).to.equal(true);
    expect(isTrustedAddress(list, '::ffff:10.2.3.4')).to.equal(true);
    expect(isTrustedAddress(list, '127.0.0.1')).to.equal(true);
    expect(isTrustedAddress(list, 'fd12::1')).to.equal(true);
    expect(isTrustedAddress(list, '127.0.0.2')).to.equal(false);
    expect(isTrustedAddress(list, '::ffff:192.168.0.1')).to.equal(false);
    expect(isTrustedAddress(list, '::1')).to.equal(false);
    expect(isTrustedAddress(list, undefined)).to.equal(false);
  });
});
