// Reads what the model needs from the registry: a manifest's config, an index's children and theirs.
import { RegistryError, type FetchedManifest, type RegistryClient } from '@staticreg/registry';
import { configDescriptorOf, describeImage, describeIndex, indexChildren, isIndexManifest, parseImageConfig, type ImageConfigDetails, type ImageDetails, type ManifestDetails } from './model.js';

const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** The subset of RegistryClient the catalog reads with (so a crawler can wrap it). */
export type ManifestReader = Pick<RegistryClient, 'getManifest' | 'getBlob'>;

async function readConfig(client: ManifestReader, repository: string, json: Record<string, unknown>): Promise<ImageConfigDetails | undefined> {
  const config = configDescriptorOf(json);
  if (!config || !config.isImageConfig || config.size > MAX_CONFIG_BYTES) return undefined;
  let blob: Buffer;
  try {
    blob = await client.getBlob(repository, config.digest, MAX_CONFIG_BYTES);
  } catch (error) {
    // A manifest whose config blob is gone (garbage-collected) still lists; its config is shown as missing.
    if (error instanceof RegistryError && error.kind === 'not-found') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(blob.toString('utf8'));
  } catch {
    return undefined;
  }
  return parseImageConfig(parsed, config);
}

async function imageDetails(client: ManifestReader, repository: string, manifest: FetchedManifest): Promise<ImageDetails> {
  const config = await readConfig(client, repository, manifest.json);
  return describeImage(manifest.digest, manifest.mediaType, manifest.body.toString('utf8'), manifest.json, config);
}

/**
 * Everything the tag page shows about a manifest. For an index, each platform's manifest and config is read
 * (attestations are listed but not read); `known` spares the requests for children described before.
 */
export async function describeManifest(
  client: ManifestReader,
  repository: string,
  manifest: FetchedManifest,
  known: (digest: string) => ImageDetails | undefined = () => undefined,
): Promise<ManifestDetails> {
  if (!isIndexManifest(manifest.mediaType, manifest.json)) return imageDetails(client, repository, manifest);
  const images: ImageDetails[] = [];
  for (const child of indexChildren(manifest.json)) {
    if (child.attestation) continue;
    const cached = known(child.digest);
    if (cached) {
      images.push(cached);
      continue;
    }
    try {
      images.push(await imageDetails(client, repository, await client.getManifest(repository, child.digest)));
    } catch (error) {
      // A sparse index (children not pushed) is legal: that platform is shown without details.
      if (error instanceof RegistryError && error.kind === 'not-found') continue;
      throw error;
    }
  }
  return describeIndex(manifest.digest, manifest.mediaType, manifest.body.toString('utf8'), manifest.json, images);
}
