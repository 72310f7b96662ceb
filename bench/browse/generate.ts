// Writes a docker-registry filesystem store with 100,000 repositories and 1,000,000 tags: a few shared blobs, and per
// repository only the links the registry reads (catalog: _layers; tags: _manifests/tags/<tag>/current/link; blob
// and manifest access: _layers and _manifests/revisions links). Layout as in distribution's registry/storage/paths.go.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { addDays } from '@staticreg/events';

export const REPOSITORIES = 100_000;
export const TAGS = 1_000_000;
export const BIG_REPOSITORY = 'bench/big';
export const BIG_TAGS = 10_000;
const IMAGES = 16;
const INDEXES = 4;

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

interface Blob {
  hex: string;
  bytes: Buffer;
}

/** A manifest the tags point to, with the blobs (and child manifests) a repository must link to serve it. */
interface Target {
  hex: string;
  mediaType: string;
  blobs: string[];
  children: string[];
}

function imageBlobs(i: number): { config: Blob; layer: Blob; manifest: Blob } {
  const layer = gzipSync(Buffer.from(`bench layer ${i}\n`.repeat(200 + i * 50)));
  const config = Buffer.from(
    JSON.stringify({
      created: `${addDays('2025-01-01', i * 7)}T00:00:00.000Z`,
      architecture: i % 4 === 3 ? 'arm64' : 'amd64',
      os: 'linux',
      config: { Labels: { 'org.opencontainers.image.title': `bench image ${i}` }, Cmd: ['/app'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] },
      history: [{ created_by: `COPY app-${i} /app` }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha(layer)}`, size: layer.length }],
    }),
  );
  return { config: { hex: sha(config), bytes: config }, layer: { hex: sha(layer), bytes: layer }, manifest: { hex: sha(manifest), bytes: manifest } };
}

/** The 20 manifests every tag points to (16 images, 4 indexes of two images each), and all their blobs. */
export function benchTargets(): { targets: Target[]; blobs: Blob[] } {
  const images = Array.from({ length: IMAGES }, (_, i) => imageBlobs(i));
  const blobs: Blob[] = images.flatMap((image) => [image.config, image.layer, image.manifest]);
  const targets: Target[] = images.map((image) => ({
    hex: image.manifest.hex,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    blobs: [image.config.hex, image.layer.hex],
    children: [],
  }));
  for (let i = 0; i < INDEXES; i += 1) {
    const pair = [images[i * 2]!, images[i * 2 + 1]!];
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: pair.map((image, j) => ({
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: `sha256:${image.manifest.hex}`,
          size: image.manifest.bytes.length,
          platform: j === 0 ? { architecture: 'amd64', os: 'linux' } : { architecture: 'arm64', os: 'linux', variant: 'v8' },
        })),
      }),
    );
    blobs.push({ hex: sha(index), bytes: index });
    targets.push({
      hex: sha(index),
      mediaType: 'application/vnd.oci.image.index.v1+json',
      blobs: pair.flatMap((image) => [image.config.hex, image.layer.hex]),
      children: pair.map((image) => image.manifest.hex),
    });
  }
  return { targets, blobs };
}

/** Repository i's name: 100 organisations x 10 teams x 100 services, plus bench/big. */
export function repositoryName(i: number): string {
  if (i === REPOSITORIES - 1) return BIG_REPOSITORY;
  return `org-${String(i % 100).padStart(2, '0')}/team-${Math.floor(i / 100) % 10}/svc-${i}`;
}

/** Tags of repository i (deterministic), each with the index of the target it points to. */
export function repositoryTags(i: number): Array<[string, number]> {
  const count = i === REPOSITORIES - 1 ? BIG_TAGS : i < 90_009 ? 10 : 9; // 90,009 x 10 + 9,990 x 9 + 10,000 = 1,000,000
  return Array.from({ length: count }, (_, t) => [i === REPOSITORIES - 1 ? `build-${t}` : `1.${t}.0`, (i * 7 + t * 3) % (IMAGES + INDEXES)]);
}

function link(path: string, hex: string): void {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'link'), `sha256:${hex}`);
}

/** Writes the store under `storageDir` unless a finished one is there; returns whether it wrote. */
export function generateStorage(storageDir: string, log: (line: string) => void = () => {}): boolean {
  const marker = join(storageDir, 'staticreg-bench.json');
  const expected = JSON.stringify({ repositories: REPOSITORIES, tags: TAGS, version: 1 });
  if (existsSync(marker) && readFileSync(marker, 'utf8') === expected) return false;
  const root = join(storageDir, 'docker', 'registry', 'v2');
  const { targets, blobs } = benchTargets();
  for (const blob of blobs) {
    const dir = join(root, 'blobs', 'sha256', blob.hex.slice(0, 2), blob.hex);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'data'), blob.bytes);
  }
  let tags = 0;
  for (let i = 0; i < REPOSITORIES; i += 1) {
    const repo = join(root, 'repositories', repositoryName(i));
    const used = new Set<number>();
    for (const [tag, target] of repositoryTags(i)) {
      link(join(repo, '_manifests', 'tags', tag, 'current'), targets[target]!.hex);
      used.add(target);
      tags += 1;
    }
    const layers = new Set<string>();
    const revisions = new Set<string>();
    for (const target of used) {
      revisions.add(targets[target]!.hex);
      for (const child of targets[target]!.children) revisions.add(child);
      for (const blob of targets[target]!.blobs) layers.add(blob);
    }
    for (const hex of revisions) link(join(repo, '_manifests', 'revisions', 'sha256', hex), hex);
    for (const hex of layers) link(join(repo, '_layers', 'sha256', hex), hex);
    if ((i + 1) % 10_000 === 0) log(`  generated ${i + 1} repositories, ${tags} tags`);
  }
  writeFileSync(marker, expected);
  return true;
}
