// The client's CPU architecture from its User-Agent, normalised to OCI/GOARCH names.

export const ARCHITECTURE_NOT_SPECIFIED = 'not-specified';

// docker's and CRI-O's "arch/<GOARCH>" token.
const ARCH_TOKEN = /(?:^|\s)arch\/([A-Za-z0-9_-]{1,32})(?=\s|$)/;

// containerd/platforms normalisation plus the uname spellings tools commonly send.
const ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  amd64: 'amd64',
  aarch64: 'arm64',
  arm64: 'arm64',
  i386: '386',
  i686: '386',
  '386': '386',
  // GOARCH arm without a variant: containerd assumes v7.
  arm: 'arm/v7',
  armhf: 'arm/v7',
  armv7l: 'arm/v7',
  armv7: 'arm/v7',
  armel: 'arm/v6',
  armv6l: 'arm/v6',
  armv6: 'arm/v6',
};

/** Normalises an architecture name; unknown but well-formed names pass through lowercased. */
export function normaliseArchitecture(raw: string): string | undefined {
  const name = raw.toLowerCase();
  if (!/^[a-z0-9_-]{1,32}$/.test(name)) return undefined;
  return ALIASES[name] ?? name;
}

export function architectureFromUserAgent(userAgent: string): string {
  const match = ARCH_TOKEN.exec(userAgent);
  return (match?.[1] && normaliseArchitecture(match[1])) || ARCHITECTURE_NOT_SPECIFIED;
}

/**
 * An image platform's display name: `arch[/variant]` with containerd's normalisation
 * (arm64/v8 is arm64, amd64/v1 is amd64, arm without a variant is arm/v7).
 */
export function platformName(architecture: string, variant?: string): string | undefined {
  // An explicit variant wins over the one an alias implies (arm alone means arm/v7, arm + v6 is arm/v6).
  const base = architecture.toLowerCase() === 'arm' ? 'arm' : normaliseArchitecture(architecture);
  if (base === undefined) return undefined;
  if (base.includes('/')) return base;
  const v = (variant ?? '').toLowerCase().replace(/^(\d)/, 'v$1');
  if (v !== '' && !/^v[0-9a-z]{1,8}$/.test(v)) return base;
  if (base === 'arm64') return v === '' || v === 'v8' ? 'arm64' : `arm64/${v}`;
  if (base === 'amd64') return v === '' || v === 'v1' ? 'amd64' : `amd64/${v}`;
  if (base === 'arm') return `arm/${v === '' ? 'v7' : v}`;
  return v === '' ? base : `${base}/${v}`;
}
