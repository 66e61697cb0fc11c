// `npm start`: serves the demo (examples/demo), the React board (examples/react-board,
// built here by Vite against the built package) and the package from the reference server
// on 127.0.0.1:8787 (PORT overrides), with its SQLite data in ./data.
// The package and the server binary are built by the npm script before this runs.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.PORT ?? 8787);
const site = join(root, 'target/demo-site');
rmSync(site, { recursive: true, force: true });
mkdirSync(site, { recursive: true });
cpSync(join(root, 'examples/demo'), site, { recursive: true });
cpSync(join(root, 'pkg'), join(site, 'pkg'), { recursive: true });
await build({
  root: join(root, 'examples/react-board'),
  base: './',
  logLevel: 'warn',
  resolve: {
    alias: {
      'srvra-sync/react': join(root, 'pkg/react.js'),
      'srvra-sync': join(root, 'pkg/index.js'),
    },
  },
  build: { outDir: join(site, 'react'), emptyOutDir: true },
});

const server = spawn(
  join(root, 'target/release/srvra-sync-server'),
  ['--listen', `127.0.0.1:${port}`, '--data', process.env.DATA_DIR ?? join(root, 'data'), '--static', site],
  { stdio: 'inherit' },
);
console.log(`srvra-sync demo: http://127.0.0.1:${port}/  (open it in two tabs; Ctrl+C stops)`);
console.log(`the same board in React: http://127.0.0.1:${port}/react/`);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.kill('SIGTERM'));
}
server.on('exit', (code) => process.exit(code ?? 0));
