// The demo `npm start` serves: the task board from the real server, two browser contexts
// editing the same board live, with the status and outbox indicator.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchChromium } from '../../scripts/browser.mjs';
import { root } from './harness.mjs';
import { startSyncServer } from './sync-server.mjs';

let server;
let browser;
let site;

before(async () => {
  site = mkdtempSync(join(tmpdir(), 'srvra-demo-site-'));
  cpSync(join(root, 'examples/demo'), site, { recursive: true });
  cpSync(join(root, 'pkg'), join(site, 'pkg'), { recursive: true });
  server = await startSyncServer(['--static', site]);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(site, { recursive: true, force: true });
});

test('two contexts edit the demo board live and see status and outbox', async () => {
  const pages = [];
  for (let i = 0; i < 2; i++) {
    const page = await (await browser.newContext()).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e));
    await page.goto(`${server.http}/`);
    await page.waitForFunction(() => window.demo?.sync.status === 'synced', null, { timeout: 20_000 });
    pages.push({ page, errors });
  }
  const [a, b] = pages;
  await a.page.fill('#title', 'buy milk');
  await a.page.click('#add button');
  await b.page.waitForFunction(() => document.querySelector('#tasks')?.textContent.includes('buy milk'));
  await b.page.click('#tasks input[type=checkbox]');
  await a.page.waitForFunction(() => document.querySelector('#tasks li')?.className === 'done');
  await a.page.context().setOffline(true);
  await a.page.fill('#title', 'offline task');
  await a.page.click('#add button');
  await a.page.waitForFunction(() => document.querySelector('#outbox').textContent === 'outbox: 1');
  assert.equal(await a.page.textContent('#status'), 'offline');
  await a.page.context().setOffline(false);
  await b.page.waitForFunction(() => document.querySelector('#tasks')?.textContent.includes('offline task'));
  await a.page.waitForFunction(() => document.querySelector('#outbox').textContent === 'outbox: 0');
  assert.deepEqual([...a.errors, ...b.errors], []);
});

test('two tabs of one browser share the board: one leads, and each shows the other\'s task', async () => {
  const context = await browser.newContext();
  const tabs = [];
  for (let i = 0; i < 2; i++) {
    const page = await context.newPage();
    await page.goto(`${server.http}/`);
    await page.waitForFunction(() => window.demo?.sync.status === 'synced', null, { timeout: 20_000 });
    tabs.push(page);
  }
  const [first, second] = tabs;
  assert.equal(await first.textContent('#tab'), 'this tab: leader');
  assert.equal(await second.textContent('#tab'), 'this tab: follower');
  await second.fill('#title', 'from the second tab');
  await second.click('#add button');
  await first.waitForFunction(() => document.querySelector('#tasks')?.textContent.includes('from the second tab'));
  await first.fill('#title', 'from the first tab');
  await first.click('#add button');
  await second.waitForFunction(() => document.querySelector('#tasks')?.textContent.includes('from the first tab'));
  await context.close();
});

test('the demo shows who is here, what they edit and where their cursor is', async () => {
  const open = async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.http}/`);
    await page.waitForFunction(() => window.demo?.sync.status === 'synced', null, { timeout: 20_000 });
    return page;
  };
  const a = await open();
  const b = await open();
  const nameOf = (page) => page.evaluate(() => window.demo.sync.presence.get().name);
  const aName = await nameOf(a);
  await b.waitForFunction((name) => document.querySelector('#people').textContent.includes(name), aName);
  await a.fill('#title', 'shared task');
  await a.click('#add button');
  await b.waitForFunction(() => document.querySelector('#tasks')?.textContent.includes('shared task'));
  await a.mouse.move(300, 200);
  await b.waitForFunction((name) => [...document.querySelectorAll('#cursors .cursor')].some((c) => c.textContent === name), aName);
  await a.click('#tasks li span');
  await b.waitForFunction((name) => document.querySelector('#tasks').textContent.includes(`${name} is editing`), aName);
  await a.screenshot({ path: join(tmpdir(), 'srvra-demo-presence.png') });
  await a.context().close();
  await b.waitForFunction((name) => !document.querySelector('#people').textContent.includes(name), aName);
  await b.context().close();
});
