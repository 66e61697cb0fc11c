// `npm run bench`: runs the benchmarks in headless Chromium and prints them next to peers
// measured in the same run. Also prints the package size next to Yjs's.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { launchChromium } from '../scripts/browser.mjs';
import { startStaticServer } from '../scripts/static-server.mjs';
import { runNetworkBench, startSrvraServer } from './network.mjs';
import { runConflictBench } from './conflicts.mjs';
import { runMemoryBench } from './memory.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// BENCH_ONLY=local,size,memory,network,conflicts,server picks sections (default: all).
const only = process.env.BENCH_ONLY?.split(',');
const want = (section) => !only || only.includes(section);
const peers = mkdtempSync(join(tmpdir(), 'srvra-bench-'));

// Yjs as one minified ESM file, as an app bundler would ship it.
await build({
  stdin: { contents: "export * from 'yjs';", resolveDir: root },
  bundle: true, minify: true, format: 'esm', outfile: join(peers, 'yjs.js'), logLevel: 'warning',
});
// Yjs with the y-websocket client (and y-indexeddb, for an offline-first catch-up), for the
// network benchmarks.
await build({
  stdin: { contents: "export * from 'yjs'; export { WebsocketProvider } from 'y-websocket'; export { IndexeddbPersistence } from 'y-indexeddb';", resolveDir: root },
  bundle: true, minify: true, format: 'esm', outfile: join(peers, 'yjs-websocket.js'), logLevel: 'warning',
});

function sizes(files) {
  let raw = 0;
  let gzip = 0;
  for (const file of files) {
    const bytes = readFileSync(file);
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { raw, gzip };
}

function walk(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const pkgFiles = walk(join(root, 'pkg')).filter((f) => /\.(js|wasm)$/.test(f));
const ours = sizes(pkgFiles);
const wasmOnly = sizes(pkgFiles.filter((f) => f.endsWith('.wasm')));
const yjs = sizes([join(peers, 'yjs.js')]);

const server = await startStaticServer({
  mounts: { '/pkg': join(root, 'pkg'), '/peers': peers, '/': join(root, 'bench/page') },
});
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  await page.goto(`${server.url}/index.html`);
  await page.waitForFunction(() => window.benchReady === true);
  const n = Number(process.env.BENCH_N ?? 100_000);
  if (want('local')) await runLocalBench(page, n, Number(process.env.BENCH_RUNS ?? 5));
  if (want('size')) printSizes();
  if (want('memory')) await runMemoryBench({ browser, pageUrl: server.url, n });
  if (want('network')) await runNetworkBench({ root, browser, pageUrl: server.url });
  if (want('conflicts')) await runConflictBench({ root, browser, pageUrl: server.url });
  // Server load: native clients over real WebSockets on 127.0.0.1 (server/examples/loadgen.rs)
  // against the release server in its own process, fresh for each run, as it is deployed.
  // Closed loop (saturation), then open loop at the target rate (40,000/s) and at half of it,
  // with private keys and with 1,000 keys every client writes (conflict-prone).
  if (want('server')) {
    console.log('\nServer load (200 clients in one room, 10 messages x 100 changes each per client)');
    const runs = [['0', 0], ['40000', 0], ['20000', 0], ['40000', 1000], ['20000', 1000]];
    for (const [rate, shared] of runs) {
      const sync = await startSrvraServer(root);
      try {
        const env = { ...process.env, LOADGEN_SERVER: new URL(sync.url).host };
        if (shared) env.LOADGEN_SHARED_KEYS = String(shared);
        execFileSync(join(root, 'target/release/examples/loadgen'), ['200', '10', '100', rate], { cwd: root, stdio: 'inherit', env });
      } finally {
        await sync.close();
      }
    }
  }
} finally {
  await browser.close();
  await server.close();
  rmSync(peers, { recursive: true, force: true });
}

/** `value` padded to `width` columns (nothing for null). */
function pad(value, width) {
  return String(value ?? '').padEnd(width);
}

/** A number with thousands separators (nothing for null). */
function num(value) {
  return value === null || value === undefined ? '' : value.toLocaleString('en-US');
}

/** The median of `values` (numbers, or nulls for rows without a rate). */
function median(values) {
  const sorted = values.filter((v) => v !== null).sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted[Math.floor(sorted.length / 2)];
}

/**
 * Local state operations in one page, each next to Yjs: `runs` runs of every scenario (the
 * page is warm after the first), and per row the median rate and time with the spread.
 */
async function runLocalBench(page, n, runs) {
  const all = [];
  for (let run = 0; run < runs; run++) {
    const { rows } = await page.evaluate((options) => window.runBenchmarks(options), { n });
    all.push(rows);
  }
  const rows = all[0].map((row, i) => {
    const same = all.map((r) => r[i]);
    const rates = same.map((r) => r.opsPerSec).filter((v) => v !== null);
    const times = same.map((r) => r.ms);
    const spread = rates.length > 0
      ? `${num(Math.min(...rates))}-${num(Math.max(...rates))} ops/s`
      : `${num(Math.min(...times))}-${num(Math.max(...times))} ms`;
    return { ...row, ms: median(times), opsPerSec: median(rates), spread };
  });
  console.log(`\nLocal state benchmarks, n = ${n.toLocaleString('en-US')}, headless Chromium, median of ${runs} runs in one page (spread: lowest-highest)\n`);
  console.log(`${pad('scenario', 44)}${pad('library', 30)}${pad('ops', 10)}${pad('ms', 10)}${pad('ops/s', 14)}${pad('spread', 28)}note`);
  console.log('-'.repeat(146));
  let last = '';
  for (const row of rows) {
    const scenario = row.scenario === last ? '' : row.scenario;
    last = row.scenario;
    console.log(`${pad(scenario, 44)}${pad(row.lib, 30)}${pad(num(row.ops), 10)}${pad(num(row.ms), 10)}${pad(num(row.opsPerSec), 14)}${pad(row.spread, 28)}${row.note}`);
  }
  const ratio = (scenario, peer) => {
    const a = rows.find((r) => r.scenario === scenario && r.lib === 'srvra-sync');
    const b = rows.find((r) => r.scenario === scenario && r.lib.startsWith(peer));
    return (a.opsPerSec / b.opsPerSec).toFixed(2);
  };
  console.log(`\nsrvra-sync / Yjs (medians): setState ${ratio('setState, distinct keys, one call each', 'Yjs')}x, batch ${ratio('batch of n distinct keys', 'Yjs')}x, overwrites ${ratio('overwrites of one key', 'Yjs')}x, reads ${ratio('getState reads', 'Yjs')}x, frames ${ratio('frames: 1 setState + 100 getState', 'Yjs')}x, collection ${ratio('collection of 10,000: add, edit, 1,000 moves, list', 'Yjs')}x, 10 subscribers ${ratio('setState notifying 10 subscribers', 'Yjs')}x`);
}

/** Package size next to Yjs's. */
function printSizes() {
  console.log('\nPackage size (wasm + JS)        raw          gzip -9');
  console.log(`srvra-sync pkg/                 ${pad(num(ours.raw), 13)}${num(ours.gzip)}   (wasm alone: ${num(wasmOnly.raw)} raw, ${num(wasmOnly.gzip)} gzip)`);
  console.log(`Yjs (esbuild --minify bundle)   ${pad(num(yjs.raw), 13)}${num(yjs.gzip)}`);
}
