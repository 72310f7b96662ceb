import { expect } from 'chai';
import { HttpError } from '@staticreg/http';
import { formatAge, formatBytes, shortDigest } from './format.js';
import { parseRepositoryPath, pathParam, tagListParams } from './params.js';

function httpError(run: () => unknown): HttpError {
  try {
    run();
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected an HttpError');
}

describe('registry page parameters and formats', () => {
  it('splits /r/<name>/-/tags/<tag> into repository and tag, and 404s what cannot be one', () => {
    expect(parseRepositoryPath(['a', 'b', 'c'])).to.deep.equal({ repository: 'a/b/c' });
    expect(parseRepositoryPath(['a', 'tags', '-', 'tags', 'v1.0'])).to.deep.equal({ repository: 'a/tags', tag: 'v1.0' });
    expect(httpError(() => parseRepositoryPath(['A', 'b'])).status).to.equal(404);
    expect(httpError(() => parseRepositoryPath(['a', '-', 'tags'])).status).to.equal(404);
    expect(httpError(() => parseRepositoryPath(['a', '-', 'tags', '.bad'])).status).to.equal(404);
  });

  it('defaults the order by column, and drops pull-based sorts and filters without a database', () => {
    expect(tagListParams({}, true)).to.deep.equal({ sort: 'name', order: 'asc', page: 1, unseenDays: undefined });
    expect(tagListParams({ sort: 'pulls', unseen: '30', page: '2' }, true)).to.deep.equal({ sort: 'pulls', order: 'desc', page: 2, unseenDays: 30 });
    expect(tagListParams({ sort: 'last-seen', unseen: '30' }, false)).to.deep.equal({ sort: 'name', order: 'asc', page: 1, unseenDays: undefined });
    expect(httpError(() => tagListParams({ unseen: '0' }, true)).message).to.match(/^unseen:/);
    expect(httpError(() => tagListParams({ order: 'up' }, true)).message).to.match(/^order:/);
    expect(httpError(() => pathParam({ path: 'a//b' })).status).to.equal(400);
    expect(pathParam({ path: '/team/' })).to.equal('team');
  });

  it('formats sizes, digests, ages and day windows', () => {
    expect([formatBytes(0), formatBytes(1536), formatBytes(20 * 1024 * 1024), formatBytes(3.5 * 1024 ** 3)]).to.deep.equal(['0 B', '1.5 KB', '20 MB', '3.5 GB']);
    expect(shortDigest(`sha256:${'ab'.repeat(32)}`)).to.equal('abababababab');
    expect([formatAge(0, 5_000), formatAge(0, 45_000), formatAge(0, 600_000), formatAge(0, 7_200_000), formatAge(0, 3 * 86_400_000)]).to.deep.equal([
      'just now',
      '45 s ago',
      '10 min ago',
      '2 h ago',
      '3 days ago',
    ]);
  });
});
