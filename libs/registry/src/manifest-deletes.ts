// Deleting manifests by digest (DELETE /v2/<name>/manifests/<digest>), and asking whether we may, harmlessly.
import { isValidDigest } from '@staticreg/events';
import { errorOf, RegistryError, type RegistryTransport } from './transport.js';

/** deleted: 202; already-gone: 404 (the manifest or the repository no longer exists). */
export type ManifestDeletion = 'deleted' | 'already-gone';

/** Why the registry will not delete for us, as the page and the audit say it. */
export type DeleteRefusal = 'deletes-disabled' | 'no-delete-right';

/** The refusal as people read it: what the registry answered and what would let deletes through. */
export function describeDeleteRefusal(refusal: DeleteRefusal, answer: string): string {
  return refusal === 'deletes-disabled'
    ? `the registry does not allow deletes (it answered ${answer}); set storage.delete.enabled: true in its config`
    : `the registry credential may not delete (it answered ${answer}); it needs the delete action on the repository`;
}

/** The registry refuses deletes: disabled in its config (405 UNSUPPORTED) or not allowed to our credential (401/403). */
export class RegistryDeleteRefused extends RegistryError {
  constructor(
    readonly refusal: DeleteRefusal,
    /** The registry's own answer: status, code and message, quoted to people. */
    readonly answer: string,
    status: number,
    code?: string,
  ) {
    super(describeDeleteRefusal(refusal, answer), status, 'unauthorized', code);
    this.name = 'RegistryDeleteRefused';
  }
}

export type DeleteRights = { canDelete: true } | { canDelete: false; refusal: DeleteRefusal; answer: string };

/** A digest no content can have: the probe's DELETE finds nothing to remove. */
const IMPOSSIBLE_DIGEST = `sha256:${'0'.repeat(64)}`;

function quote(status: number, code: string | undefined, message: string | undefined): string {
  return [String(status), code, message].filter((part) => part).join(' ');
}

/**
 * DELETE of a manifest by digest. 202 deleted, 404 already gone; 405 (deletes disabled) and 401/403 (no delete
 * right) throw RegistryDeleteRefused quoting the registry; anything else a RegistryError.
 */
export async function deleteManifest(http: RegistryTransport, repository: string, digest: string): Promise<ManifestDeletion> {
  if (!isValidDigest(digest)) throw new RegistryError(`not a digest: ${digest}`, undefined, 'invalid');
  const path = `/v2/${repository}/manifests/${digest}`;
  let response;
  try {
    response = await http.fetch(path, 'DELETE');
  } catch (error) {
    // A token that lacks the delete action ends in a second 401 inside the challenge answer.
    if (error instanceof RegistryError && error.status === 401) throw new RegistryDeleteRefused('no-delete-right', error.message, 401);
    throw error;
  }
  if (response.statusCode === 202) {
    await response.body.dump();
    return 'deleted';
  }
  const { code, message } = await errorOf(response);
  const answer = quote(response.statusCode, code, message);
  if (response.statusCode === 404) return 'already-gone';
  if (response.statusCode === 405) throw new RegistryDeleteRefused('deletes-disabled', answer, 405, code);
  if (response.statusCode === 401 || response.statusCode === 403) throw new RegistryDeleteRefused('no-delete-right', answer, response.statusCode, code);
  throw new RegistryError(`DELETE ${path}: ${answer}`, response.statusCode, undefined, code);
}

/**
 * Whether deletes work for our credential in `repository`: a DELETE of a digest that cannot exist answers 404 when
 * they do, 405 when the registry disables them, 401/403 when the credential lacks the right. Nothing is deleted.
 */
export async function probeDeleteRights(http: RegistryTransport, repository: string): Promise<DeleteRights> {
  try {
    await deleteManifest(http, repository, IMPOSSIBLE_DIGEST);
    return { canDelete: true };
  } catch (error) {
    if (error instanceof RegistryDeleteRefused) return { canDelete: false, refusal: error.refusal, answer: error.answer };
    throw error;
  }
}
