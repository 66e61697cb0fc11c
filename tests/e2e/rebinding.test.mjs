// DNS rebinding (issue 29 item 2), in Chromium against the real server: a page on
// `evil.example`, a name made to resolve to 127.0.0.1 (as a rebinding attacker's DNS does),
// on the server's own port, so that its `Origin` is the same host as its `Host`. It must
// neither open a socket to the rooms nor read `/metrics`; loopback pages keep working.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { useBrowser } from './harness.mjs';
import { openPeer } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser({}, () => ['--host-resolver-rules=MAP evil.example 127.0.0.1']);
// The server also serves files, as `npm start` does: the attacker's page is one of them,
// as if the attacker's own server had served it before the name was rebound.
const site = mkdtempSync(join(tmpdir(), 'srvra-rebind-'));
writeFileSync(join(site, 'attack.html'), '<!doctype html><title>attack</title>');
after(() => rmSync(site, { recursive: true, force: true }));
const server = useSyncServer(['--static', site]);

test('a page on a name rebound to 127.0.0.1 cannot open a socket or read /metrics', async () => {
  const owner = await openPeer(env, server.ws, 'secret-room', 'owner');
  await owner.page.evaluate(async () => {
    sync.setState('secret', 'hunter2');
    await sync.sync();
  });

  const context = await env.browser.newContext();
  const page = await context.newPage();
  const evil = `http://evil.example:${server.port}`;
  // The page's document loads under the rebound name (refused: its script still runs in
  // a document of that origin, as the attacker's page would).
  const response = await page.goto(`${evil}/attack.html`);
  assert.equal(response.status(), 403);
  const loopback = await fetch(`http://127.0.0.1:${server.port}/attack.html`);
  assert.equal(loopback.status, 200, 'the same file on the loopback name');
  const attack = await page.evaluate(async (origin) => {
    const socket = await new Promise((resolve) => {
      const ws = new WebSocket(`${origin.replace('http', 'ws')}/sync`);
      ws.onopen = () => {
        ws.close();
        resolve('open');
      };
      ws.onerror = () => resolve('refused');
    });
    const metrics = await fetch(`${origin}/metrics`).then((r) => r.status, () => 'failed');
    const health = await fetch(`${origin}/health`).then((r) => r.status, () => 'failed');
    return { socket, metrics, health };
  }, evil);
  assert.deepEqual(attack, { socket: 'refused', metrics: 403, health: 200 });

  // The same server on its loopback name: unchanged.
  const metrics = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /srvra_origins_refused_total [1-9]/);
  assert.equal(await owner.page.evaluate(() => sync.status), 'synced');
  await context.close();
  await owner.context.close();
});
