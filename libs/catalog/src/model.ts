// What the catalog knows about a manifest, read from its JSON and its image config: pure functions, no I/O.
import { INDEX_MEDIA_TYPES, isObject, type JsonObject } from '@staticreg/events';

export const IMAGE_CONFIG_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.container.image.v1+json',
  'application/vnd.oci.image.config.v1+json',
]);

/** One platform of a tag: an image, or an index's child. Sizes are what a pull downloads (config + layers, compressed). */
export interface PlatformSummary {
  digest: string;
  os: string;
  architecture: string;
  variant?: string;
  size: number;
  created?: string;
}

/** The line a tag gets in a repository page. */
export interface ManifestSummary {
  digest: string;
  mediaType: string;
  kind: 'image' | 'index';
  /** image: config + layers; index: every distinct blob of its platforms. */
  size: number;
  /** image: its config's `created`; index: the newest of its platforms'. Absent when the config has none. */
  created?: string;
  /** Platforms a client can pull; attestations and unknown/unknown entries are left out. */
  platforms: PlatformSummary[];
}

export interface LayerDetails {
  digest: string;
  mediaType: string;
  size: number;
}

export interface HistoryEntry {
  created?: string;
  createdBy?: string;
  comment?: string;
  emptyLayer: boolean;
}

export interface ImageConfigDetails {
  digest: string;
  size: number;
  mediaType: string;
  created?: string;
  author?: string;
  os?: string;
  architecture?: string;
  variant?: string;
  labels: Record<string, string>;
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  user?: string;
  exposedPorts: string[];
  history: HistoryEntry[];
}

/** Everything the tag page shows about one image manifest. */
export interface ImageDetails {
  kind: 'image';
  digest: string;
  mediaType: string;
  manifestSize: number;
  size: number;
  artifactType?: string;
  /** Undefined when the config is not an image config (an OCI artifact) or could not be read. */
  config?: ImageConfigDetails;
  configDescriptor: { digest: string; mediaType: string; size: number };
  layers: LayerDetails[];
  annotations: Record<string, string>;
  /** The manifest as the registry served it. */
  raw: string;
}

export interface IndexChild {
  digest: string;
  mediaType: string;
  manifestSize: number;
  os?: string;
  architecture?: string;
  variant?: string;
  /** buildx attestations (vnd.docker.reference.type) and unknown/unknown entries. */
  attestation: boolean;
  annotations: Record<string, string>;
}

export interface IndexDetails {
  kind: 'index';
  digest: string;
  mediaType: string;
  manifestSize: number;
  size: number;
  children: IndexChild[];
  /** The children's own details, for those that were read. */
  images: ImageDetails[];
  annotations: Record<string, string>;
  raw: string;
}

export type ManifestDetails = ImageDetails | IndexDetails;

const MAX_TEXT = 64 * 1024;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value.slice(0, MAX_TEXT) : undefined;
}

function size(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string').map((item) => item.slice(0, MAX_TEXT)) : undefined;
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(value)) return out;
  for (const [key, item] of Object.entries(value)) if (typeof item === 'string') out[key.slice(0, 1024)] = item.slice(0, MAX_TEXT);
  return out;
}

/** A timestamp as RFC 3339 UTC, or undefined for none, garbage, or the zero time some tools write. */
export function normaliseCreated(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const time = Date.parse(value);
  if (!Number.isFinite(time) || time <= Date.UTC(1971, 0, 1)) return undefined;
  return new Date(time).toISOString();
}

export function isIndexManifest(mediaType: string, json: JsonObject): boolean {
  return INDEX_MEDIA_TYPES.has(mediaType) || (mediaType === '' && Array.isArray(json.manifests));
}

function descriptor(value: unknown): { digest: string; mediaType: string; size: number } | undefined {
  if (!isObject(value) || typeof value.digest !== 'string') return undefined;
  return { digest: value.digest, mediaType: text(value.mediaType) ?? '', size: size(value.size) };
}

/** The config descriptor of an image manifest, and whether it is an image config worth reading. */
export function configDescriptorOf(json: JsonObject): { digest: string; mediaType: string; size: number; isImageConfig: boolean } | undefined {
  const config = descriptor(json.config);
  if (!config) return undefined;
  return { ...config, isImageConfig: IMAGE_CONFIG_MEDIA_TYPES.has(config.mediaType) };
}

/** Reads an image config blob (docker or OCI): platform, created, labels, entrypoint, cmd, ports, history. */
export function parseImageConfig(json: unknown, descriptor: { digest: string; size: number; mediaType: string }): ImageConfigDetails {
  const root = isObject(json) ? json : {};
  const inner = isObject(root.config) ? root.config : {};
  const history = Array.isArray(root.history) ? root.history : [];
  const created = normaliseCreated(root.created);
  const author = text(root.author);
  const os = text(root.os);
  const architecture = text(root.architecture);
  const variant = text(root.variant);
  const entrypoint = strings(inner.Entrypoint);
  const cmd = strings(inner.Cmd);
  const workingDir = text(inner.WorkingDir);
  const user = text(inner.User);
  return {
    digest: descriptor.digest,
    size: descriptor.size,
    mediaType: descriptor.mediaType,
    ...(created ? { created } : {}),
    ...(author ? { author } : {}),
    ...(os ? { os } : {}),
    ...(architecture ? { architecture } : {}),
    ...(variant ? { variant } : {}),
    labels: stringMap(inner.Labels),
    ...(entrypoint ? { entrypoint } : {}),
    ...(cmd ? { cmd } : {}),
    ...(workingDir ? { workingDir } : {}),
    ...(user ? { user } : {}),
    exposedPorts: isObject(inner.ExposedPorts) ? Object.keys(inner.ExposedPorts).sort() : [],
    history: history.filter(isObject).map((entry) => {
      const entryCreated = normaliseCreated(entry.created);
      const createdBy = text(entry.created_by);
      const comment = text(entry.comment);
      return {
        ...(entryCreated ? { created: entryCreated } : {}),
        ...(createdBy ? { createdBy } : {}),
        ...(comment ? { comment } : {}),
        emptyLayer: entry.empty_layer === true,
      };
    }),
  };
}

/** An image manifest with its (optional) config. */
export function describeImage(digest: string, mediaType: string, raw: string, json: JsonObject, config: ImageConfigDetails | undefined): ImageDetails {
  const layers = (Array.isArray(json.layers) ? json.layers : []).map(descriptor).filter((layer): layer is LayerDetails => layer !== undefined);
  const configDescriptor = descriptor(json.config) ?? { digest: '', mediaType: '', size: 0 };
  const artifactType = text(json.artifactType);
  return {
    kind: 'image',
    digest,
    mediaType,
    manifestSize: Buffer.byteLength(raw),
    size: configDescriptor.size + layers.reduce((sum, layer) => sum + layer.size, 0),
    ...(artifactType ? { artifactType } : {}),
    ...(config ? { config } : {}),
    configDescriptor,
    layers,
    annotations: stringMap(json.annotations),
    raw,
  };
}

/** The children an index lists, with their platforms; attestations are marked. */
export function indexChildren(json: JsonObject): IndexChild[] {
  const manifests = Array.isArray(json.manifests) ? json.manifests : [];
  const children: IndexChild[] = [];
  for (const entry of manifests) {
    if (!isObject(entry) || typeof entry.digest !== 'string') continue;
    const platform = isObject(entry.platform) ? entry.platform : {};
    const annotations = stringMap(entry.annotations);
    const os = text(platform.os);
    const architecture = text(platform.architecture);
    const variant = text(platform.variant);
    children.push({
      digest: entry.digest,
      mediaType: text(entry.mediaType) ?? '',
      manifestSize: size(entry.size),
      ...(os ? { os } : {}),
      ...(architecture ? { architecture } : {}),
      ...(variant ? { variant } : {}),
      attestation: 'vnd.docker.reference.type' in annotations || (os ?? 'unknown') === 'unknown' || (architecture ?? 'unknown') === 'unknown',
      annotations,
    });
  }
  return children;
}

/** An index with the details of the children that could be read. */
export function describeIndex(digest: string, mediaType: string, raw: string, json: JsonObject, images: ImageDetails[]): IndexDetails {
  const children = indexChildren(json);
  const byDigest = new Map(images.map((image) => [image.digest, image]));
  const blobs = new Map<string, number>();
  for (const child of children) {
    if (child.attestation) continue;
    const image = byDigest.get(child.digest);
    if (!image) continue;
    blobs.set(image.configDescriptor.digest, image.configDescriptor.size);
    for (const layer of image.layers) blobs.set(layer.digest, layer.size);
  }
  return {
    kind: 'index',
    digest,
    mediaType,
    manifestSize: Buffer.byteLength(raw),
    size: [...blobs.values()].reduce((sum, value) => sum + value, 0),
    children,
    images: children.map((child) => byDigest.get(child.digest)).filter((image): image is ImageDetails => image !== undefined),
    annotations: stringMap(json.annotations),
    raw,
  };
}

function platformOfImage(image: ImageDetails, fallback?: IndexChild): PlatformSummary {
  const os = image.config?.os ?? fallback?.os ?? 'unknown';
  const architecture = image.config?.architecture ?? fallback?.architecture ?? 'unknown';
  const variant = image.config?.variant ?? fallback?.variant;
  return {
    digest: image.digest,
    os,
    architecture,
    ...(variant ? { variant } : {}),
    size: image.size,
    ...(image.config?.created ? { created: image.config.created } : {}),
  };
}

/** The repository-page line of a manifest, from its details. */
export function summarize(details: ManifestDetails): ManifestSummary {
  if (details.kind === 'image') {
    const platform = platformOfImage(details);
    return {
      digest: details.digest,
      mediaType: details.mediaType,
      kind: 'image',
      size: details.size,
      ...(platform.created ? { created: platform.created } : {}),
      platforms: details.config || details.artifactType === undefined ? [platform] : [],
    };
  }
  const images = new Map(details.images.map((image) => [image.digest, image]));
  const platforms: PlatformSummary[] = [];
  for (const child of details.children) {
    if (child.attestation) continue;
    const image = images.get(child.digest);
    if (image) platforms.push(platformOfImage(image, child));
    else {
      platforms.push({
        digest: child.digest,
        os: child.os ?? 'unknown',
        architecture: child.architecture ?? 'unknown',
        ...(child.variant ? { variant: child.variant } : {}),
        size: 0,
      });
    }
  }
  const created = platforms.map((platform) => platform.created).filter((value): value is string => value !== undefined).sort().at(-1);
  return { digest: details.digest, mediaType: details.mediaType, kind: 'index', size: details.size, ...(created ? { created } : {}), platforms };
}

/** linux/arm64/v8 */
export function platformLabel(platform: { os?: string; architecture?: string; variant?: string }): string {
  return [platform.os ?? 'unknown', platform.architecture ?? 'unknown', platform.variant].filter((part) => part).join('/');
}
