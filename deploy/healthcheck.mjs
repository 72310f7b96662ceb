// Container healthcheck: exits 0 when http://127.0.0.1:<port><path> answers 2xx within 4 s, else 1.
// A script rather than inline `node -e "..."`: podman's Docker API splits a healthcheck's arguments on
// spaces, and the image has node but no curl or wget.
const [port, path = '/readyz'] = process.argv.slice(2);
if (!/^\d+$/.test(port ?? '')) {
  console.error('usage: node healthcheck.mjs <port> [path]');
  process.exit(2);
}
try {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(4000) });
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(`healthcheck: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
