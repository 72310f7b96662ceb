import { expect } from 'chai';
import { describeIndex } from './model.js';
import { manifestsToKeep, parentPath } from './store.js';
import { image, sha } from '../../../test/support/catalog-images.js';

/** An index of images 1 and 2 (both read), with digest n. */
function index(n: number) {
  const json = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [1, 2].map((i) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(i), size: 100, platform: { os: 'linux', architecture: `arch-${i}` } })),
  };
  return describeIndex(sha(n), json.mediaType, JSON.stringify(json), json, [image(1), image(2)]);
}

describe('catalog store helpers', () => {
  it('keeps an index with its images, each digest once, a manifest given itself over the same image in an index', () => {
    const own = { ...image(2), raw: 'given itself' };
    const kept = manifestsToKeep([index(10), own, image(3), index(10)]);
    expect(kept.map((details) => details.digest)).to.deep.equal([sha(10), sha(1), sha(2), sha(3)]);
    expect(kept.find((details) => details.digest === sha(2))!.raw).to.equal('given itself');
    expect(manifestsToKeep([])).to.deep.equal([]);
  });

  it('names the parent path of a repository', () => {
    expect([parentPath('a'), parentPath('a/b'), parentPath('a/b/c')]).to.deep.equal(['', 'a', 'a/b']);
  });
});
