// The client's CPU architecture from its User-Agent, normalised to OCI/GOARCH names.

export const ARCHITECTURE_NOT_SPECIFIED = 'not-specified';

// docker's and CRI-O's "arch/<GOARCH>" token.
const ARCH_TOKEN = /(?:^|\s)arch\/([A-Za-z0-9_.-]{1,32})(?=\s|$)/;

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
