// The package as users get it: `npm pack` of pkg/ installed into a fresh project
// (scripts/pack.mjs), built for production by Vite and by webpack 5 and run in Chromium,
// imported by a plain Node 20 script, and a Node client syncing with a browser client
// through the real server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'vite';
import webpack from 'webpack';
import { packedPackage } from '../../scripts/pack.mjs';
import { root, useBrowser } from './harness.mjs';
import { openPeer, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const consumer = dirname(dirname(packedPackage()));
const app = join(root, 'tests/e2e/consumer-app');
const out = mkdtempSync(join(tmpdir(), 'srvra-consumer-'));
after(() => rmSync(out, { recursive: true, force: true }));
const env = useBrowser({ '/vite': join(out, 'vite'), '/webpack': join(out, 'webpack') });
const server = useSyncServer();

/** Copies the app's `files` into a folder of the consumer project (so `srvra-sync`
 * resolves from its node_modules, as in a real app). */
function appFolder(name, files) {
  const dir = join(consumer, name);
  mkdirSync(dir, { recursive: true });
  for (const file of files) cpSync(join(app, file), join(dir, file));
  return dir;
}

async function runInBrowser(url) {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 15_000 });
  const result = await page.evaluate(() => window.result);
  await context.close();
  assert.deepEqual(errors, []);
  return result;
}

const expected = { text: 'hello from a bundle', n: 3, code: 'INVALID_PATH', status: 'synced' };

test('a Vite production build of an app that installed the tarball runs in Chromium', async () => {
  const dir = appFolder('vite-app', ['index.html', 'main.js']);
  await build({
    root: dir,
    base: '/vite/',
    logLevel: 'warn',
    build: { outDir: join(out, 'vite'), emptyOutDir: true },
  });
  const assets = readdirSync(join(out, 'vite/assets'));
  assert.ok(assets.some((file) => file.endsWith('.wasm')), `wasm emitted: ${assets}`);
  assert.deepEqual(await runInBrowser(`${env.url}/vite/index.html`), expected);
});

test('a webpack 5 production build of the same app runs in Chromium', async () => {
  const dir = appFolder('webpack-app', ['main.js']);
  const target = join(out, 'webpack');
  const stats = await new Promise((resolve, reject) => {
    webpack({
      mode: 'production',
      context: dir,
      entry: './main.js',
      output: { path: target, publicPath: '/webpack/', filename: 'main.js' },
      resolve: { modules: [join(consumer, 'node_modules')] },
      performance: { hints: false },
    }, (error, result) => (error ? reject(error) : resolve(result)));
  });
  assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
  assert.ok(readdirSync(target).some((file) => file.endsWith('.wasm')), 'wasm emitted');
  writeFileSync(join(target, 'index.html'), '<!doctype html><meta charset="utf-8"><script src="/webpack/main.js"></script>\n');
  assert.deepEqual(await runInBrowser(`${env.url}/webpack/index.html`), expected);
});

test('a Vite SSR build imports the package on the server and renders with it', async () => {
  const dir = appFolder('ssr-app', ['ssr-entry.mjs']);
  for (const noExternal of [false, true]) {
    const target = join(dir, noExternal ? 'dist-bundled' : 'dist');
    await build({
      root: dir,
      logLevel: 'warn',
      ssr: { noExternal: noExternal ? true : [] },
      build: { ssr: 'ssr-entry.mjs', outDir: target, emptyOutDir: true },
    });
    const entry = readdirSync(target).find((file) => /^ssr-entry\.m?js$/.test(file));
    const { render } = await import(pathToFileURL(join(target, entry)).href);
    assert.equal(render(), '<h1>rendered on the server</h1>', `noExternal: ${noExternal}`);
  }
});

test('a plain Node 20 script imports the package and uses the state manager', async () => {
  const dir = appFolder('node-app', ['node-script.mjs']);
  const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'node-script.mjs')], { cwd: dir });
  assert.deepEqual(JSON.parse(stdout), {
    todo: { title: 'write tests', done: true },
    count: 5,
    history: 2,
    seen: [['write tests', 'local'], ['write tests', 'local']],
    rejected: 'TypeError INVALID_VALUE',
    storage: 'StorageError STORAGE_UNAVAILABLE',
    validation: true,
  });
});

test('a Node script survives a refused server, a wrong path and close() while connecting; writes before ready arrive; whenSynced', async () => {
  const dir = appFolder('node-app', ['node-outage.mjs']);
  const wsModule = join(root, 'node_modules/ws/wrapper.mjs');
  // A port nothing listens on (the server's own, plus one, is not guaranteed free: ask).
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const refused = `ws://127.0.0.1:${probe.address().port}/sync`;
  await new Promise((resolve) => probe.close(resolve));
  const notFound = server.ws.replace('/sync', '/no-such-path');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(dir, 'node-outage.mjs'), server.ws, refused, notFound, wsModule],
    { cwd: dir, timeout: 60_000 },
  );
  assert.deepEqual(JSON.parse(stdout), {
    // An outage stays `reconnecting` (not `error`) and is reported once.
    refused: { status: 'reconnecting', errors: ['CONNECTION_FAILED'] },
    notFound: { status: 'reconnecting', errors: ['CONNECTION_FAILED'] },
    closedWhileConnecting: true,
    read: { kept: true },
    status: 'synced',
  });
});

test('a Node client (ws) and a browser client sync through the server', async () => {
  const dir = appFolder('node-app', ['node-client.mjs']);
  const wsModule = join(root, 'node_modules/ws/wrapper.mjs');
  const node = promisify(execFile)(process.execPath, [join(dir, 'node-client.mjs'), server.ws, 'mixed', wsModule], { cwd: dir });
  const browser = await openPeer(env, server.ws, 'mixed', 'mixed-browser');
  await browser.page.evaluate(() => sync.setState('fromBrowser', { at: 'browser' }));
  await waitFor(browser.page, () => sync.getState('fromNode') !== undefined && sync.getState('nodeBatch') === 2);
  const { stdout } = await node;
  assert.deepEqual(JSON.parse(stdout), {
    fromBrowser: { at: 'browser' },
    fromNode: { at: 'node' },
    status: 'synced',
  });
  await browser.context.close();
});
