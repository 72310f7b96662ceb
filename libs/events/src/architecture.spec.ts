import { expect } from 'chai';
import { architectureFromUserAgent, platformName } from './architecture.js';

describe('architectureFromUserAgent', () => {
  const cases: Array<[string, string]> = [
    ['docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.5.0 os/linux arch/arm64 UpstreamClient(Docker-Client/24.0.7 \\(linux\\))', 'arm64'],
    ['docker/20.10.16 go/go1.17.10 git-commit/f756502 kernel/3.10.0 os/linux arch/amd64 UpstreamClient(Docker-Client/20.10.16 \\(linux\\))', 'amd64'],
    ['cri-o/1.34.0 go/go1.25.0 os/linux arch/amd64', 'amd64'],
    ['docker/19.03 os/linux arch/x86_64', 'amd64'],
    ['docker/19.03 os/linux arch/aarch64', 'arm64'],
    ['docker/19.03 os/linux arch/armv7l', 'arm/v7'],
    ['docker/19.03 os/linux arch/i686', '386'],
    ['docker/19.03 os/linux arch/s390x', 's390x'],
    ['docker/19.03 os/linux arch/PPC64LE', 'ppc64le'],
    ['containerd/v1.7.11', 'not-specified'],
    ['skopeo/1.9.3', 'not-specified'],
    ['Mozilla/5.0 (X11; Linux x86_64)', 'not-specified'],
    ['search/arch/amd64', 'not-specified'],
    ['docker/1 arch/', 'not-specified'],
    ['docker/1 arch/<script>', 'not-specified'],
    ['', 'not-specified'],
  ];
  for (const [userAgent, architecture] of cases) {
    it(`${JSON.stringify(userAgent.slice(0, 60))} -> ${architecture}`, () => {
      expect(architectureFromUserAgent(userAgent)).to.equal(architecture);
    });
  }
});

describe('platformName', () => {
  const cases: Array<[string, string | undefined, string | undefined]> = [
    ['amd64', undefined, 'amd64'],
    ['amd64', 'v1', 'amd64'],
    ['amd64', 'v3', 'amd64/v3'],
    ['arm64', 'v8', 'arm64'],
    ['arm64', '8', 'arm64'],
    ['aarch64', '', 'arm64'],
    ['arm', 'v7', 'arm/v7'],
    ['arm', '6', 'arm/v6'],
    ['arm', undefined, 'arm/v7'],
    ['x86_64', undefined, 'amd64'],
    ['riscv64', undefined, 'riscv64'],
    ['s390x', '<b>', 's390x'],
    ['<script>', undefined, undefined],
  ];
  for (const [architecture, variant, name] of cases) {
    it(`${architecture}${variant === undefined ? '' : `+${variant}`} -> ${name}`, () => {
      expect(platformName(architecture, variant)).to.equal(name);
    });
  }
});
