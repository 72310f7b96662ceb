import { expect } from 'chai';
import { parseChallenge, parseNextLink, parseTokenResponse, scopeForPath, TokenCache } from './auth.js';

describe('registry authentication helpers', () => {
  it('parses Bearer and Basic challenges, quoted values with commas and escapes', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).to.deep.equal({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
    });
    expect(parseChallenge('Basic realm="my \\"realm\\""')).to.deep.equal({ scheme: 'basic', params: { realm: 'my "realm"' } });
    expect(parseChallenge('Bearer Realm=unquoted , Service="x"')).to.deep.equal({ scheme: 'bearer', params: { realm: 'unquoted', service: 'x' } });
    expect(parseChallenge('')).to.equal(undefined);
    expect(parseChallenge(undefined)).to.equal(undefined);
  });

  it('names the scope each API path needs', () => {
    expect(scopeForPath('/v2/_catalog?n=1000')).to.equal('registry:catalog:*');
    expect(scopeForPath('/v2/a/b/c/tags/list?n=10')).to.equal('repository:a/b/c:pull');
    expect(scopeForPath('/v2/lib/demo/manifests/sha256:abc')).to.equal('repository:lib/demo:pull');
    expect(scopeForPath('/v2/lib/demo/blobs/sha256:abc')).to.equal('repository:lib/demo:pull');
    expect(scopeForPath('/v2/lib/demo/manifests/sha256:abc', 'DELETE')).to.equal('repository:lib/demo:delete');
    expect(scopeForPath('/v2/')).to.equal(undefined);
  });

  it('keeps a token until shortly before it expires, and bounds the number of scopes', () => {
    let now = 1_000_000;
    const cache = new TokenCache(2, () => now);
    cache.set('a', 'ta', 300);
    expect(cache.get('a')).to.equal('ta');
    now += 269_000; // 10% of 300 s (30 s) before expiry it is no longer used
    expect(cache.get('a')).to.equal('ta');
    now += 2000;
    expect(cache.get('a')).to.equal(undefined);
    cache.set('a', 'ta', 60);
    cache.set('b', 'tb', 60);
    cache.set('c', 'tc', 60);
    expect([cache.size, cache.get('a'), cache.get('c')]).to.deep.equal([2, undefined, 'tc']);
  });

  it('reads token answers in both spellings, with a 60 s default lifetime', () => {
    expect(parseTokenResponse({ token: 't', expires_in: 300, issued_at: '2001-01-01T00:00:00Z' })).to.deep.equal({ token: 't', expiresIn: 300 });
    expect(parseTokenResponse({ access_token: 'o' })).to.deep.equal({ token: 'o', expiresIn: 60 });
    expect(parseTokenResponse({ token: '' })).to.equal(undefined);
    expect(parseTokenResponse('nope')).to.equal(undefined);
  });

  it('finds the next page in a Link header', () => {
    expect(parseNextLink('</v2/_catalog?last=a%2Fb&n=3>; rel="next"')).to.equal('/v2/_catalog?last=a%2Fb&n=3');
    expect(parseNextLink('<https://r/v2/x/tags/list?n=2&last=b>; rel=next, <https://r/prev>; rel="prev"')).to.equal('https://r/v2/x/tags/list?n=2&last=b');
    expect(parseNextLink('<https://r/prev>; rel="prev"')).to.equal(undefined);
    expect(parseNextLink(undefined)).to.equal(undefined);
  });
});
