// Catalog entries for store tests: image n is a single-platform OCI image whose digest, config and layer derive from n.
import { describeImage, parseImageConfig, type ImageDetails } from '@staticreg/catalog';

/** A valid-looking digest made of the number n. */
export const sha = (n: number): string => `sha256:${String(n).padStart(64, '0')}`;

/** Image n: linux/amd64, one layer of n bytes, `created` when given. */
export function image(n: number, created?: string): ImageDetails {
  const json = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(n + 500), size: 10 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(n + 900), size: n }],
  };
  const config = parseImageConfig({ architecture: 'amd64', os: 'linux', ...(created ? { created } : {}) }, json.config);
  return describeImage(sha(n), json.mediaType, JSON.stringify(json), json, config);
}
