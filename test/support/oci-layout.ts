// Builds tiny OCI images (one-file layer, config, manifest, optional index) and writes them as OCI layouts for skopeo.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

/** An image or index: the descriptor of its top manifest and every blob it needs, manifests included, by digest. */
export interface OciArtifact {
  root: Descriptor;
  blobs: Map<string, Buffer>;
}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function describe(mediaType: string, bytes: Buffer): Descriptor {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length };
}

/** Writes `value` as an ustar octal field of `width` bytes: digits, then NUL. */
function octal(header: Buffer, offset: number, width: number, value: number): void {
  header.write(value.toString(8).padStart(width - 1, '0'), offset, width - 1, 'ascii');
  header[offset + width - 1] = 0;
}

/** A POSIX ustar archive holding one regular file; enough for a registry and skopeo, which never unpack it. */
export function tarOneFile(name: string, content: Buffer, mtimeSeconds = 0): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long: ${name}`);
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  octal(header, 100, 8, 0o644);
  octal(header, 108, 8, 0);
  octal(header, 116, 8, 0);
  octal(header, 124, 12, content.length);
  octal(header, 136, 12, mtimeSeconds);
  header.fill(' ', 148, 156); // the checksum is computed with its own field read as spaces
  header.write('0', 156, 1, 'ascii');
  header.write('ustar\u000000', 257, 8, 'ascii');
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  header.write(`${checksum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/** A single-platform image whose one layer holds `file` with `content`. */
export function buildImage(platform: Platform, file: string, content: string): OciArtifact {
  const tar = tarOneFile(file, Buffer.from(content));
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      ...platform,
      config: {},
      rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] },
      history: [{ created_by: 'staticreg e2e test' }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: describe(OCI_CONFIG, config),
      layers: [describe(OCI_LAYER_GZIP, layer)],
    }),
  );
  const root = describe(OCI_MANIFEST, manifest);
  return {
    root,
    blobs: new Map([
      [sha256Digest(config), config],
      [sha256Digest(layer), layer],
      [root.digest, manifest],
    ]),
  };
}

/** An OCI image index over single-platform images; each child descriptor carries its image's platform. */
export function buildIndex(images: Array<{ platform: Platform; image: OciArtifact }>): OciArtifact {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: images.map(({ platform, image }) => ({ ...image.root, platform })),
    }),
  );
  const root = describe(OCI_INDEX, index);
  const blobs = new Map<string, Buffer>([[root.digest, index]]);
  for (const { image } of images) for (const [digest, bytes] of image.blobs) blobs.set(digest, bytes);
  return { root, blobs };
}

/** Writes an OCI image layout at `dir` with `artifact` tagged `tag`, readable as skopeo's oci:<dir>:<tag>. */
export async function writeOciLayout(dir: string, tag: string, artifact: OciArtifact): Promise<void> {
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const [digest, bytes] of artifact.blobs) await writeFile(join(blobDir, digest.slice('sha256:'.length)), bytes);
  const ref = { mediaType: artifact.root.mediaType, digest: artifact.root.digest, size: artifact.root.size };
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...ref, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
}
