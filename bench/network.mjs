// Network benchmarks for `npm run bench`: end-to-end latency (a change in tab A until tab
// B's subscriber fires, through the local server) and catch-up of missed changes, for
// srvra-sync with its reference server next to Yjs with y-websocket's server.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';

const require = createRequire(import.meta.url);

/** y-websocket's reference relay server, in this process. */
export async function startYjsServer() {
  const { setupWSConnection, docs } = require('y-websocket/bin/utils');
  const http = createServer((_, res) => res.end('ok'));
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (conn, req) => setupWSConnection(conn, req, { gc: true }));
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${http.address().port}`,
    close: async () => {
      await new Promise((resolve) => { wss.close(); http.close(resolve); });
      // Without persistence the relay keeps every room's doc (and its awareness timer,
      // which kept `npm run bench` from exiting) after the last connection closes.
      for (const doc of docs.values()) doc.destroy();
      docs.clear();
    },
  };
}

/** The srvra-sync release server on a free port with a temporary data directory. */
export async function startSrvraServer(root) {
  const data = mkdtempSync(join(tmpdir(), 'srvra-bench-data-'));
  const child = spawn(join(root, 'target/release/srvra-sync-server'), ['--listen', '127.0.0.1:0', '--data', data], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const addr = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      const match = /listening on http:\/\/(\S+)/.exec(String(chunk));
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    url: `ws://${addr}/sync`,
    close: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** Median and sorted values of catch-up runs ({ ms, ready }). */
function summary(runs) {
  const all = runs.map((r) => r.ms).sort((x, y) => x - y);
  const readies = runs.map((r) => r.ready).filter((r) => r !== null).sort((x, y) => x - y);
  const mid = (values) => values[Math.floor(values.length / 2)];
  return { ms: mid(all), all, ready: readies.length ? mid(readies) : null, readies };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs the network benchmarks in `browser` against pages served at `pageUrl`. */
export async function runNetworkBench({ root, browser, pageUrl, changes = 1000, warm = 200, missed = 10_000, catchUpRuns = 3 }) {
  const srvra = await startSrvraServer(root);
  const yjs = await startYjsServer();
  const rows = [];
  // What each setup is called in the output, by the page's name for it: the two libraries
  // (a row each), and Yjs offline-first (a catch-up line of its own).
  const labels = {
    srvra: 'srvra-sync + srvra-sync-server',
    yjs: 'Yjs + y-websocket server',
    'yjs-idb': 'Yjs + y-indexeddb (offline-first)',
  };
  const catchUps = {};
  try {
    for (const lib of ['srvra', 'yjs']) {
      const context = await browser.newContext();
      const open = async () => {
        const page = await context.newPage();
        page.on('pageerror', (error) => console.error(`page error (${lib}):`, error.message));
        await page.goto(`${pageUrl}/net.html${process.env.NOIDB ? "?noidb" : ""}`);
        await page.waitForFunction(() => window.benchReady === true);
        return page;
      };
      const [a, b, c] = [await open(), await open(), await open()];
      const url = lib === 'srvra' ? srvra.url : yjs.url;
      const room = `bench-${lib}`;
      await b.evaluate(([l, o]) => window.listen(l, o), [lib, { url, room, db: `${lib}-b` }]);
      // Both libraries first make `warm` changes that are not counted: fresh pages, a
      // fresh server and its database are slower for their first changes (reported apart).
      const { warm: warmUp, measured: latencies } = await a.evaluate(
        ([l, o, n, w]) => window.sendAll(l, o, n, w), [lib, { url, room, db: `${lib}-a` }, changes, warm],
      );
      warmUp.sort((x, y) => x - y);
      latencies.sort((x, y) => x - y);
      // Catch-up, several times (a new room and database each): its spread is wide.
      const variants = lib === 'yjs' ? ['yjs', 'yjs-idb'] : [lib];
      const runs = Object.fromEntries(variants.map((variant) => [variant, []]));
      for (let run = 0; run < catchUpRuns; run++) {
        for (const variant of variants) {
          const catchRoom = `catch-up-${variant}-${run}`;
          await a.evaluate(([l, o, n]) => window.writeMany(l, o, n), [lib, { url, room: catchRoom, db: `${variant}-a2-${run}` }, missed]);
          runs[variant].push(await c.evaluate(([l, o, n]) => window.catchUp(l, o, n), [variant, { url, room: catchRoom, db: `${variant}-c-${run}` }, missed]));
        }
      }
      for (const variant of variants) catchUps[variant] = summary(runs[variant]);
      const presenceRoom = `presence-${lib}`;
      await b.evaluate(([l, o]) => window.listenPresence(l, o), [lib, { url, room: presenceRoom, db: `${lib}-pb` }]);
      const presence = await a.evaluate(([l, o, n]) => window.sendPresence(l, o, n), [lib, { url, room: presenceRoom, db: `${lib}-pa` }, 500]);
      presence.sort((x, y) => x - y);
      rows.push({
        lib: labels[lib],
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies[latencies.length - 1],
        warmP50: percentile(warmUp, 50),
        warmMax: warmUp[warmUp.length - 1],
        catchUp: catchUps[lib],
        presenceP50: percentile(presence, 50),
        presenceP99: percentile(presence, 99),
      });
      await context.close();
    }
  } finally {
    await yjs.close();
    await srvra.close();
  }
  const ms = (value) => `${value.toFixed(2)} ms`;
  const spread = (values) => `${Math.round(values[0])}-${Math.round(values[values.length - 1])} ms`;
  console.log(`\nNetwork, loopback: latency = setState in tab A until tab B's subscriber fires (${changes} changes, one at a time, after ${warm} not counted); catch-up = a new client until it holds ${missed.toLocaleString('en-US')} changes it missed (median of ${catchUpRuns}); presence = presence.set (Yjs: awareness.setLocalState) in tab A until tab B hears it (500 cursor updates, one at a time, no throttle)\n`);
  console.log(`${'library'.padEnd(34)}${'p50'.padEnd(12)}${'p99'.padEnd(12)}${'max'.padEnd(12)}${'catch-up'.padEnd(14)}presence p50 / p99`);
  console.log('-'.repeat(104));
  for (const row of rows) {
    console.log(`${row.lib.padEnd(34)}${ms(row.p50).padEnd(12)}${ms(row.p99).padEnd(12)}${ms(row.max).padEnd(12)}${ms(row.catchUp.ms).padEnd(14)}${ms(row.presenceP50)} / ${ms(row.presenceP99)}`);
  }
  console.log(`\nThe ${warm} warm-up changes (not in the table), p50 / max:`);
  for (const row of rows) console.log(`  ${row.lib.padEnd(34)}${ms(row.warmP50)} / ${ms(row.warmMax)}`);
  console.log(`\nCatch-up over ${catchUpRuns} runs (ms until the new client holds every change; of it, until its database was open):`);
  for (const [variant, c] of Object.entries(catchUps)) {
    const ready = c.ready === null ? '' : `; database open: median ${ms(c.ready)}, ${spread(c.readies)}`;
    console.log(`  ${labels[variant].padEnd(34)}median ${ms(c.ms)}, ${spread(c.all)}${ready}`);
  }
  console.log('(srvra-sync restores its database before it connects: the server is asked for what follows its stored head)');
  return rows;
}
