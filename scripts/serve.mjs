// Serves the demo (examples/demo) and the built package (pkg/) on 127.0.0.1:8787.
// `PORT=9000 node scripts/serve.mjs` picks another port.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStaticServer } from './static-server.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.PORT ?? 8787);
const server = await startStaticServer({
  port,
  mounts: { '/pkg': join(root, 'pkg'), '/': join(root, 'examples/demo') },
});
console.log(`srvra-sync demo: ${server.url}/  (Ctrl+C stops)`);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close().then(() => process.exit(0)));
}
