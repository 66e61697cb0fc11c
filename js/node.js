// srvra-sync for Node 20+ (server-side rendering, unit tests, server-side clients): reads
// the wasm from the package's own files instead of fetching it by URL, then exports the
// API. Importing it needs no `window`, `document` or `indexedDB`.
import { readFile } from 'node:fs/promises';
import init from './srvra_sync.js';

await init({ module_or_path: await readFile(new URL('./srvra_sync_bg.wasm', import.meta.url)) });

export * from './sdk.js';
