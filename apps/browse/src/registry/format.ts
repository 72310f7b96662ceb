// How numbers, sizes, digests and times read on the pages.

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1536 -> "1.5 KB" (powers of 1024, as registries and docker show sizes). */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

/** sha256:abcdef012345... -> abcdef012345 (12 hex digits, as docker shows image ids). */
export function shortDigest(digest: string): string {
  const hex = digest.split(':')[1] ?? digest;
  return hex.slice(0, 12);
}

export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

/** "just now", "5 min ago", "3 h ago", "4 days ago". */
export function formatAge(thenMs: number, nowMs: number): string {
  const seconds = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (seconds < 10) return 'just now';
  if (seconds < 90) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 36) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

/** 2026-04-01T12:00:00.000Z -> 2026-04-01 12:00 UTC */
export function formatTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
