// The package in a Vite production build: bundled, wasm emitted as an asset, no init call.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { build } from 'vite';
import { root, useBrowser } from './harness.mjs';

const outDir = mkdtempSync(join(tmpdir(), 'srvra-vite-'));
after(() => rmSync(outDir, { recursive: true, force: true }));
const env = useBrowser({ '/app': outDir });

test('a Vite build imports srvra-sync and runs it in the browser', async () => {
  await build({
    root: join(root, 'tests/e2e/vite-app'),
    base: '/app/',
    logLevel: 'warn',
    resolve: { alias: { 'srvra-sync': join(root, 'pkg/index.js') } },
    build: { outDir, emptyOutDir: true },
  });
  const assets = readdirSync(join(outDir, 'assets'));
  assert.ok(assets.some((file) => file.endsWith('.wasm')), `wasm emitted: ${assets}`);

  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${env.url}/app/index.html`);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 15_000 });
  assert.deepEqual(errors, []);
  assert.deepEqual(await page.evaluate(() => window.result), {
    text: 'hello from vite',
    code: 'INVALID_PATH',
    status: 'synced',
  });
  await context.close();
});
