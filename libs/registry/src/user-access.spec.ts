import { expect } from 'chai';
import { pullableInToken } from './user-access.js';

function token(claims: unknown): string {
  return `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
}

describe('repositories a token grants pull on', () => {
  it('reads repository entries with pull or * from the access claim', () => {
    const granted = pullableInToken(
      token({
        access: [
          { type: 'repository', name: 'team-a/app', actions: ['pull'] },
          { type: 'repository', name: 'team-a/db', actions: ['pull', 'push'] },
          { type: 'repository', name: 'team-a/all', actions: ['*'] },
          { type: 'repository', name: 'team-b/app', actions: ['push'] },
          { type: 'repository', name: 'team-b/none', actions: [] },
          { type: 'registry', name: 'catalog', actions: ['*'] },
        ],
      }),
    );
    expect([...granted].sort()).to.deep.equal(['team-a/all', 'team-a/app', 'team-a/db']);
  });

  it('grants nothing for a token without an access claim, or one that is not a JWT', () => {
    expect(pullableInToken(token({ sub: 'alice' })).size).to.equal(0);
    expect(pullableInToken(token({ access: 'everything' })).size).to.equal(0);
    expect(pullableInToken('opaque-token').size).to.equal(0);
    expect(pullableInToken('a.!!!.c').size).to.equal(0);
  });
});
