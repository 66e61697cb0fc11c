// Fails when two Rust files import each other (issue 14: such a cycle means a type lives in
// the wrong file). Resolves `crate::` and `super::` paths in `use` lines and in code (one
// level of `{a, b}` groups), following names a mod.rs re-exports to the file that defines
// them. Comments and `#[cfg(test)] mod tests` blocks are ignored; a mod.rs that only
// declares a child does not count as importing it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';

function files(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith('.rs') ? [path] : [];
  });
}

function moduleOf(path, root) {
  const parts = relative(root, path).slice(0, -3).split(sep);
  if (['mod', 'lib', 'main'].includes(parts.at(-1))) parts.pop();
  return parts.join('/');
}

const definition = (name) => new RegExp(
  `pub(?:\\([^)]*\\))?\\s+(?:async\\s+)?(?:struct|enum|fn|trait|type|const|static)\\s+${name}\\b`,
);

function cycles(root) {
  const paths = new Map(files(root).map((p) => [moduleOf(p, root), p]));
  const text = new Map([...paths].map(([m, p]) => [m, readFileSync(p, 'utf8')
    .replace(/#\[cfg\(test\)\]\s*mod tests \{[\s\S]*/, '')
    .replace(/\/\/.*$/gm, '')]));
  const isDir = (m) => ['mod.rs', 'lib.rs', 'main.rs'].includes(basename(paths.get(m)));
  const definer = (mod, name) => {
    if (definition(name).test(text.get(mod))) return mod;
    for (const child of paths.keys()) {
      const parts = child.split('/');
      if (parts.length === (mod ? mod.split('/').length : 0) + 1 && parts.slice(0, -1).join('/') === mod
        && definition(name).test(text.get(child))) return child;
    }
    return mod;
  };
  const resolve = (parts) => {
    for (let n = parts.length; n > 0; n--) {
      const mod = parts.slice(0, n).join('/');
      if (paths.has(mod)) return n < parts.length ? definer(mod, parts[n]) : mod;
    }
    return null;
  };
  const edges = new Map();
  for (const [mod, src] of text) {
    const targets = new Set();
    const pattern = /\b(crate|super)::((?:\w+::)*\w*)(\{[^}]*\})?/g;
    for (const [, kind, rest, group] of src.matchAll(pattern)) {
      const stem = rest.split('::').filter(Boolean);
      const items = group
        ? group.slice(1, -1).split(',').map((i) => i.trim().split(' as ')[0].trim()).filter(Boolean)
        : [null];
      const parent = mod.split('/').slice(0, -1);
      const base = kind === 'crate' ? [] : parent;
      for (const item of items) {
        const parts = [...base, ...stem, ...(item && item !== 'self' ? item.split('::') : [])];
        const target = resolve(parts);
        if (target !== null && target !== mod) targets.add(target);
      }
    }
    edges.set(mod, targets);
  }
  const found = [];
  for (const [a, targets] of edges) {
    for (const b of targets) {
      if (a >= b || !edges.get(b)?.has(a)) continue;
      const [parent, child] = a.split('/').length < b.split('/').length ? [a, b] : [b, a];
      const declaresOnly = child.split('/').slice(0, -1).join('/') === parent && isDir(parent)
        && !new RegExp(`\\b${child.split('/').at(-1)}::`).test(text.get(parent));
      if (!declaresOnly) found.push(`${a} <-> ${b}`);
    }
  }
  return found;
}

const found = ['src', 'server/src'].flatMap((root) => cycles(root).map((c) => `${root}: ${c}`));
if (found.length > 0) {
  console.error(`files that import each other (move the shared type to its own file):\n  ${found.join('\n  ')}`);
  process.exit(1);
}
console.log('no Rust file imports a file that imports it back');
