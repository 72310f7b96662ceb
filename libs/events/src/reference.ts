// The distribution reference grammar (github.com/distribution/reference): what a valid repository, tag and digest look like.

const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const SHA512 = /^sha512:[a-f0-9]{128}$/;

/** Longest repository name the registry accepts. */
export const MAX_REPOSITORY_LENGTH = 255;

export function isValidRepository(name: string): boolean {
  return name.length > 0 && name.length <= MAX_REPOSITORY_LENGTH && REPOSITORY.test(name);
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** sha256 and sha512 must have their exact hex length; other registered algorithms follow the generic form. */
export function isValidDigest(digest: string): boolean {
  if (digest.length > 256 || !DIGEST.test(digest)) return false;
  if (digest.startsWith('sha256:')) return SHA256.test(digest);
  if (digest.startsWith('sha512:')) return SHA512.test(digest);
  return true;
}
