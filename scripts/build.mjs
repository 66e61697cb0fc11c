// Builds the npm package into pkg/: wasm (size profile) -> wasm-bindgen (web target) ->
// wasm-opt -Oz (npm binaryen) -> hand-finished ESM entry, types and package.json.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = join(root, 'pkg');
const run = (cmd, args, env = {}) =>
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });

// Shorter panic-location paths: they are stored as strings in the wasm.
const registry = join(homedir(), '.cargo/registry/src');
run('cargo', ['build', '--lib', '--target', 'wasm32-unknown-unknown', '--profile', 'wasm'], {
  CARGO_ENCODED_RUSTFLAGS: [`--remap-path-prefix=${registry}=crates`, `--remap-path-prefix=${root}=srvra`].join('\x1f'),
});
rmSync(pkg, { recursive: true, force: true });
run('wasm-bindgen', [
  join(root, 'target/wasm32-unknown-unknown/wasm/srvra_sync.wasm'),
  '--out-dir', pkg, '--target', 'web', '--no-typescript',
]);

const wasm = join(pkg, 'srvra_sync_bg.wasm');
run(join(root, 'node_modules/.bin/wasm-opt'), [
  wasm, '-o', wasm, '-Oz', '--strip-debug', '--strip-producers',
  '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue',
]);

// Every file of js/ ships (the entries, the API and its modules, the types).
const sources = readdirSync(join(root, 'js'));
for (const file of sources) copyFileSync(join(root, 'js', file), join(pkg, file));

// The binding imports js/errors.js as a wasm-bindgen snippet; re-export that very module so
// errors thrown from Rust are instances of the classes the package exports.
function listFiles(dir, prefix = '') {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    const name = prefix === '' ? entry : `${prefix}/${entry}`;
    return statSync(path).isDirectory() ? listFiles(path, name) : [name];
  });
}

function find(dir, name) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      const hit = find(path, name);
      if (hit) return hit;
    } else if (entry === name) return path;
  }
  return null;
}
const snippet = find(join(pkg, 'snippets'), 'errors.js');
if (!snippet) throw new Error('wasm-bindgen did not emit the errors.js snippet');
writeFileSync(join(pkg, 'errors.js'), `export * from './${relative(pkg, snippet)}';\n`);

const cargo = readFileSync(join(root, 'Cargo.toml'), 'utf8');
const version = /^version = "([^"]+)"/m.exec(cargo)[1];
const manifest = JSON.parse(readFileSync(join(root, 'pkg-template/package.json'), 'utf8'));
manifest.version = version;
copyFileSync(join(root, 'README.md'), join(pkg, 'README.md'));
// `files` is what was built (wasm-bindgen leaves a .gitignore out), and every relative
// import of a shipped module must resolve to a shipped file: `npm pack` is what users get.
const shipped = listFiles(pkg).filter((file) => file !== '.gitignore' && file !== 'package.json');
manifest.files = shipped;
writeFileSync(join(pkg, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
const missing = [];
for (const file of shipped.filter((f) => f.endsWith('.js'))) {
  const text = readFileSync(join(pkg, file), 'utf8');
  for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)) {
    const target = posix.normalize(posix.join(posix.dirname(file), spec));
    if (!shipped.includes(target)) missing.push(`${file} -> ${spec}`);
  }
}
if (missing.length > 0) throw new Error(`pkg/ imports files it does not ship: ${missing.join(', ')}`);
console.log(`built pkg/ (srvra-sync ${version}, wasm ${statSync(wasm).size} bytes)`);
