// srvra-sync for Node 20+ (server-side rendering, unit tests, server-side clients): reads
// the wasm from the package's own files instead of fetching it by URL, then exports the
// API. Importing it needs no `window`, `document` or `indexedDB`.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import init from './srvra_sync.js';

async function wasmBytes() {
  try {
    return await readFile(new URL('./srvra_sync_bg.wasm', import.meta.url));
  } catch (error) {
    // Bundled into another file (an SSR bundle): read it from the installed package.
    try {
      return await readFile(createRequire(import.meta.url).resolve('srvra-sync/srvra_sync_bg.wasm'));
    } catch {
      throw error;
    }
  }
}

await init({ module_or_path: await wasmBytes() });

export * from './sdk.js';
