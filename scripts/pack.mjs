// What `npm install srvra-sync` gives a user: `npm pack` of pkg/, installed into a fresh
// project (target/consumer). The end-to-end tests serve and import the package from there,
// never from pkg/ itself, so a file missing from the tarball fails them.
//   node scripts/pack.mjs    packs and installs; prints the project's folder
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The fresh project the packed tarball is installed into. */
export const consumer = join(root, 'target/consumer');
/** The installed package inside it. */
export const installed = join(consumer, 'node_modules/srvra-sync');

/** Packs pkg/ and installs the tarball into a new `target/consumer` project. */
export function installPacked() {
  rmSync(consumer, { recursive: true, force: true });
  mkdirSync(consumer, { recursive: true });
  const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const tarball = npm(['pack', '--silent', '--pack-destination', consumer], join(root, 'pkg')).trim().split('\n').pop();
  writeFileSync(join(consumer, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`);
  npm(['install', '--no-audit', '--no-fund', '--silent', `./${tarball}`], consumer);
  return consumer;
}

/** The installed package, installing it first when missing. */
export function packedPackage() {
  if (!existsSync(join(installed, 'package.json'))) installPacked();
  return installed;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(installPacked());
}
