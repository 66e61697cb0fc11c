// `srvra-sync/react` as users get it: examples/react-board copied into the project where
// the packed package is installed, built by Vite for production, run in Chromium (in
// StrictMode) against the real server; and the hooks rendered to a string in Node.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { build } from 'vite';
import { packedPackage } from '../../scripts/pack.mjs';
import { root, useBrowser } from './harness.mjs';
import { waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const installed = packedPackage();
const consumer = dirname(dirname(installed));
const out = mkdtempSync(join(tmpdir(), 'srvra-react-'));
after(() => rmSync(out, { recursive: true, force: true }));
const env = useBrowser({ '/react': out });
const server = useSyncServer();

before(async () => {
  const app = join(consumer, 'react-board');
  mkdirSync(app, { recursive: true });
  cpSync(join(root, 'examples/react-board'), app, { recursive: true });
  await build({ root: app, base: './', logLevel: 'error', build: { outDir: out, emptyOutDir: true } });
});

async function openBoard(name, db, room) {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const query = new URLSearchParams({ server: server.ws, room, db, name });
  await page.goto(`${env.url}/react/index.html?${query}`);
  await waitFor(page, () => window.board?.sync.status === 'synced');
  return { page, context, errors };
}

const renders = (page) => page.evaluate(() => ({ ...window.board.renders }));

test('a change to one key re-renders only the components that read it; two contexts converge', async () => {
  const a = await openBoard('Ada', 'react-a', 'react-room');
  const b = await openBoard('Bob', 'react-b', 'react-room');
  // Presence through the hook: each shows the other.
  await waitFor(a.page, () => document.querySelector('#people').textContent.includes('Bob'));
  await waitFor(b.page, () => document.querySelector('#people').textContent.includes('Ada'));
  await a.page.waitForTimeout(300);

  const before = await renders(a.page);
  await b.page.fill('#note', 'hello from Bob');
  await waitFor(a.page, () => document.querySelector('#note').value === 'hello from Bob');
  const afterNote = await renders(a.page);
  assert.ok(afterNote.note > before.note, 'the note re-rendered');
  assert.equal(afterNote.tasks, before.tasks, 'the task list did not re-render for the note');

  await b.page.fill('#title', 'from Bob');
  await b.page.click('#add button');
  await waitFor(a.page, () => document.querySelector('#tasks').textContent.includes('from Bob'));
  const afterTask = await renders(a.page);
  assert.ok(afterTask.tasks > afterNote.tasks, 'the task list re-rendered');
  assert.equal(afterTask.note, afterNote.note, 'the note did not re-render for a task');

  // Edits through the hooks in both contexts converge.
  await a.page.click('#tasks input[type=checkbox]');
  await a.page.fill('#title', 'from Ada');
  await a.page.click('#add button');
  await waitFor(b.page, () => document.querySelectorAll('#tasks li').length === 2 && document.querySelector('#tasks li').className === 'done');
  const state = (page) => page.evaluate(() => JSON.stringify([window.board.sync.collection('task').list(), window.board.sync.getState('note')]));
  await waitFor(a.page, () => document.querySelectorAll('#tasks li').length === 2);
  assert.equal(await state(a.page), await state(b.page));
  // The status hook shows the status; the editing tag follows focus (presence).
  assert.equal(await a.page.textContent('#status'), 'synced');
  await a.page.focus('#tasks li span');
  await waitFor(b.page, () => document.querySelector('#tasks').textContent.includes('Ada is editing'));
  await a.page.screenshot({ path: join(tmpdir(), 'srvra-react-board.png') });
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.context.close();
  await waitFor(b.page, () => !document.querySelector('#people').textContent.includes('Ada'));

  // A reload with no server to answer (issue 27: it rendered an empty list while
  // getState had the tasks): the cached tasks render from IndexedDB at `ready`.
  await b.page.evaluate(() => window.board.sync.whenPersisted());
  const offline = new URLSearchParams({ server: 'ws://127.0.0.1:9/sync', room: 'react-room', db: 'react-b', name: 'Bob' });
  await b.page.goto(`${env.url}/react/index.html?${offline}`);
  await waitFor(b.page, () => document.querySelectorAll('#tasks li').length === 2
    && document.querySelector('#note').value === 'hello from Bob');
  await b.context.close();
});

test('the hooks render to a string in Node (server-side rendering)', async () => {
  const { createElement: h } = await import('react');
  const { renderToString } = await import('react-dom/server');
  const { SrvraDataSync } = await import(pathToFileURL(join(installed, 'node.js')).href);
  const hooks = await import(pathToFileURL(join(installed, 'react.js')).href);
  function View({ sync }) {
    const [title] = hooks.useSyncedState(sync, 'board.title');
    const status = hooks.useSyncStatus(sync);
    const [others] = hooks.usePresence(sync);
    const conflicts = hooks.usePendingConflicts(sync);
    return h('p', null, `${title ?? '-'} ${status} ${others.length} ${conflicts.length}`);
  }
  // Before the app creates an instance (as in a server render).
  assert.equal(renderToString(h(View, { sync: null })), '<p>- initial 0 0</p>');
  // With a local instance in Node.
  const sync = new SrvraDataSync({ offline: { enabled: false } });
  await sync.ready;
  sync.setState('board.title', 'Rendered on the server');
  assert.equal(renderToString(h(View, { sync })), '<p>Rendered on the server synced 0 0</p>');
  sync.close();
});

test('the README\'s React example runs in Node as written', async () => {
  const readme = (await import('node:fs')).readFileSync(join(root, 'README.md'), 'utf8');
  const [, code] = /```js\n(\/\/ node-example: react\n[\s\S]*?)```/.exec(readme);
  const expected = [...code.matchAll(/^\/\/ → (.*)$/gm)].map(([, line]) => line);
  // In the project where the package is installed, as a user's file would be.
  const file = join(consumer, 'readme-react-example.mjs');
  (await import('node:fs')).writeFileSync(file, code);
  const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd: consumer });
  assert.deepEqual(stdout.trim().split('\n'), expected);
});
