// The floor of bench 1: a bare node:http server that reads the body and answers 200, nothing else.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? '0');

const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  req.on('end', () => {
    const body = JSON.stringify({ bytes });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});

server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
