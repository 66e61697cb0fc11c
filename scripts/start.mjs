// `npm start`: serves the README's to-do app (examples/todo), the demo (examples/demo),
// the React board (examples/react-board; both built here by Vite against the built
// package) and the package from the reference server on 127.0.0.1:8787 (PORT overrides),
// with its SQLite data in ./data.
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
// The React board and the README's tutorial app (examples/todo), built by Vite against
// the built package.
for (const [example, path] of [['react-board', 'react'], ['todo', 'todo']]) {
  await build({
    root: join(root, 'examples', example),
    base: './',
    logLevel: 'warn',
    resolve: {
      alias: {
        'srvra-sync/react': join(root, 'pkg/react.js'),
        'srvra-sync': join(root, 'pkg/index.js'),
      },
    },
    build: { outDir: join(site, path), emptyOutDir: true },
  });
}

const server = spawn(
  join(root, 'target/release/srvra-sync-server'),
  ['--listen', `127.0.0.1:${port}`, '--data', process.env.DATA_DIR ?? join(root, 'data'), '--static', site],
  { stdio: 'inherit' },
);
console.log(`the README's to-do app: http://127.0.0.1:${port}/todo/  (open it in two browsers; Ctrl+C stops)`);
console.log(`srvra-sync demo: http://127.0.0.1:${port}/`);
console.log(`the same board in React: http://127.0.0.1:${port}/react/`);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.kill('SIGTERM'));
}
server.on('exit', (code) => process.exit(code ?? 0));
