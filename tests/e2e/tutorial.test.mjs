// The README's tutorial, "Build a to-do app in 10 minutes", run the way it says (issue 27):
// its files are the README's blocks (checked here), installed with the packed tarball,
// built by Vite, and used from two devices (two Chromium contexts) against the real
// server: add, reload, offline, a rename conflict resolved from the UI, and "clear
// completed" as one batch.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { build } from 'vite';
import { packedPackage } from '../../scripts/pack.mjs';
import { root, useBrowser } from './harness.mjs';
import { waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const out = mkdtempSync(join(tmpdir(), 'srvra-todo-'));
after(() => rmSync(out, { recursive: true, force: true }));
const env = useBrowser({ '/todo': out });
const server = useSyncServer();
const files = ['index.html', 'main.js', 'style.css'];

test('the tutorial in the README is examples/todo, file for file', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  for (const file of files) {
    const marker = file.endsWith('.html') ? `<!-- examples/todo/${file} -->\n` : `/* examples/todo/${file} */\n`;
    const at = readme.indexOf(marker);
    assert.ok(at >= 0, `README shows ${file}`);
    const block = readme.slice(at + marker.length, readme.indexOf('```', at));
    assert.equal(block, readFileSync(join(root, 'examples/todo', file), 'utf8'), `README's ${file}`);
  }
});

before(async () => {
  const app = join(dirname(dirname(packedPackage())), 'todo-app');
  mkdirSync(app, { recursive: true });
  for (const file of files) cpSync(join(root, 'examples/todo', file), join(app, file));
  await build({ root: app, base: './', logLevel: 'error', build: { outDir: out, emptyOutDir: true } });
});

async function device(db, { serverUrl = server.ws, context } = {}) {
  const ctx = context ?? (await env.browser.newContext());
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${env.url}/todo/index.html?${new URLSearchParams({ server: serverUrl, room: 'tutorial', db })}`);
  await page.waitForFunction(() => window.todo !== undefined);
  return { page, context: ctx, errors };
}

const titles = (page) => page.evaluate(() => [...document.querySelectorAll('#todos li')]
  .map((li) => `${li.querySelector('input:not([type])').value}${li.querySelector('input[type=checkbox]').checked ? ' ✓' : ''}`));

async function add(page, title) {
  await page.fill('#title', title);
  await page.click('#add button');
}

test('two devices use the tutorial app: reload, offline, a rename conflict, clear completed', async () => {
  const a = await device('device-a');
  const b = await device('device-b');
  for (const title of ['Write Q3 report', 'Book flights', 'Call Ada']) await add(a.page, title);
  await waitFor(b.page, () => document.querySelectorAll('#todos li').length === 3);
  assert.deepEqual(await titles(b.page), ['Write Q3 report', 'Book flights', 'Call Ada']);

  // A reload with the server unreachable: the list comes from IndexedDB at `ready`.
  await b.page.evaluate(() => window.todo.sync.whenPersisted());
  await b.page.goto(`${env.url}/todo/index.html?${new URLSearchParams({ server: 'ws://127.0.0.1:9/sync', room: 'tutorial', db: 'device-b' })}`);
  await waitFor(b.page, () => document.querySelectorAll('#todos li').length === 3);
  await b.page.goto(`${env.url}/todo/index.html?${new URLSearchParams({ server: server.ws, room: 'tutorial', db: 'device-b' })}`);
  await waitFor(b.page, () => window.todo?.sync.status === 'synced');

  // b goes offline, ticks a task off, adds one, and renames the first; a renames it too.
  await b.context.setOffline(true);
  await waitFor(b.page, () => document.querySelector('#status').textContent === 'offline');
  await b.page.click('#todos li:nth-child(2) input[type=checkbox]');
  await add(b.page, 'Offline task');
  await b.page.fill('#todos li:nth-child(1) input:not([type])', 'Write Q3 report (draft)');
  await b.page.press('#todos li:nth-child(1) input:not([type])', 'Enter');
  await a.page.fill('#todos li:nth-child(1) input:not([type])', 'Write the Q3 report');
  await a.page.press('#todos li:nth-child(1) input:not([type])', 'Enter');
  await waitFor(a.page, () => window.todo.sync.getStatistics().outboxLength === 0);
  await b.context.setOffline(false);

  // b is asked which title to keep; the rest of the list is untouched.
  await waitFor(b.page, () => document.querySelectorAll('#conflicts button').length === 2);
  assert.deepEqual(
    await b.page.evaluate(() => [...document.querySelectorAll('#conflicts button')].map((x) => x.textContent)),
    ['Keep "Write Q3 report (draft)"', 'Keep "Write the Q3 report"'],
  );
  await b.page.click('#conflicts button');
  const expected = ['Write Q3 report (draft)', 'Book flights ✓', 'Call Ada', 'Offline task'];
  for (const page of [a.page, b.page]) {
    await waitFor(page, (want) => JSON.stringify([...document.querySelectorAll('#todos li')]
      .map((li) => `${li.querySelector('input:not([type])').value}${li.querySelector('input[type=checkbox]').checked ? ' ✓' : ''}`)) === want,
    JSON.stringify(expected));
  }

  // "Clear completed": one batch, seen whole on the other device.
  await a.page.click('#clear');
  await waitFor(b.page, () => document.querySelectorAll('#todos li').length === 3);
  assert.deepEqual(await titles(b.page), ['Write Q3 report (draft)', 'Call Ada', 'Offline task']);
  assert.equal(await b.page.evaluate(() => document.querySelector('#status').textContent), 'synced');
  await a.page.screenshot({ path: join(tmpdir(), 'srvra-todo.png') });
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.context.close();
  await b.context.close();
});
