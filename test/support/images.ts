// Test images with real configs (created, labels, entrypoint, history, ports) and layouts skopeo copies to a registry.
import { gzipSync } from 'node:zlib';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, sha256Digest, tarOneFile, type OciArtifact, type Platform } from './oci-layout.js';

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export interface ImageSpec {
  platform: Platform;
  /** RFC 3339; omitted: the config has no `created` (as some build tools leave it). */
  created?: string;
  labels?: Record<string, string>;
  entrypoint?: string[];
  cmd?: string[];
  exposedPorts?: string[];
  history?: Array<{ created_by: string; created?: string; empty_layer?: boolean; comment?: string }>;
  /** One layer per entry: [file name, content]. */
  layers: Array<[string, string]>;
  /** docker: Docker schema 2 media types; oci (default): OCI. */
  format?: 'docker' | 'oci';
  annotations?: Record<string, string>;
}

export interface BuiltImage extends OciArtifact {
  config: Buffer;
  configDigest: string;
  layerSizes: number[];
}

/** A single-platform image; its manifest, config and layers, by digest. */
export function buildSpecImage(spec: ImageSpec): BuiltImage {
  const docker = spec.format === 'docker';
  const tars = spec.layers.map(([name, content]) => tarOneFile(name, Buffer.from(content)));
  const layers = tars.map((tar) => gzipSync(tar));
  const config = Buffer.from(
    JSON.stringify({
      ...(spec.created ? { created: spec.created } : {}),
      architecture: spec.platform.architecture,
      os: spec.platform.os,
      ...(spec.platform.variant ? { variant: spec.platform.variant } : {}),
      config: {
        ...(spec.labels ? { Labels: spec.labels } : {}),
        ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
        ...(spec.exposedPorts ? { ExposedPorts: Object.fromEntries(spec.exposedPorts.map((port) => [port, {}])) } : {}),
      },
      rootfs: { type: 'layers', diff_ids: tars.map((tar) => sha256Digest(tar)) },
      history: spec.history ?? spec.layers.map(([name]) => ({ created_by: `COPY ${name} /` })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST,
      config: { mediaType: docker ? DOCKER_CONFIG : OCI_CONFIG, digest: sha256Digest(config), size: config.length },
      layers: layers.map((layer) => ({ mediaType: docker ? DOCKER_LAYER_GZIP : OCI_LAYER_GZIP, digest: sha256Digest(layer), size: layer.length })),
      ...(spec.annotations ? { annotations: spec.annotations } : {}),
    }),
  );
  const root = { mediaType: docker ? DOCKER_MANIFEST : OCI_MANIFEST, digest: sha256Digest(manifest), size: manifest.length };
  const blobs = new Map<string, Buffer>([[sha256Digest(config), config]]);
  for (const layer of layers) blobs.set(sha256Digest(layer), layer);
  blobs.set(root.digest, manifest);
  return { root, blobs, config, configDigest: sha256Digest(config), layerSizes: layers.map((layer) => layer.length) };
}

/** An OCI index or a Docker manifest list over single-platform images. */
export function buildSpecIndex(images: BuiltImage[], platforms: Platform[], format: 'docker' | 'oci' = 'oci'): OciArtifact {
  const mediaType = format === 'docker' ? DOCKER_LIST : OCI_INDEX;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: images.map((image, i) => ({ ...image.root, platform: platforms[i] })),
    }),
  );
  const root = { mediaType, digest: sha256Digest(index), size: index.length };
  const blobs = new Map<string, Buffer>([[root.digest, index]]);
  for (const image of images) for (const [digest, bytes] of image.blobs) blobs.set(digest, bytes);
  return { root, blobs };
}
