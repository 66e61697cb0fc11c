// Conflict overhead for `npm run bench`: two clients write 1,000 changes each at once,
// to the same keys (every change of one side is in conflict and settled by
// last-write-wins) or to keys of their own, until both hold the same values. Yjs with
// y-websocket runs the same two workloads as the peer (it merges silently).
import { startSrvraServer, startYjsServer } from './network.mjs';

const RUNS = 5;

function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Runs the conflict benchmark in `browser` against pages served at `pageUrl`. */
export async function runConflictBench({ root, browser, pageUrl, changes = 1000 }) {
  const srvra = await startSrvraServer(root);
  const yjs = await startYjsServer();
  const results = {};
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error('page error (conflicts):', error.message));
    await page.goto(`${pageUrl}/net.html`);
    await page.waitForFunction(() => window.benchReady === true);
    for (let run = 0; run < RUNS; run++) {
      // Alternate the workloads so drift on this machine affects both alike.
      for (const lib of ['srvra', 'yjs']) {
        for (const conflicting of [false, true]) {
          const url = lib === 'srvra' ? srvra.url : yjs.url;
          const options = { url, room: `two-${lib}-${conflicting}-${run}`, db: `two-${lib}-${conflicting}-${run}` };
          const result = await page.evaluate(([l, o, n, c]) => window.twoWriters(l, o, n, c), [lib, options, changes, conflicting]);
          const slot = (results[`${lib} ${conflicting}`] ??= { ms: [], conflicts: [] });
          slot.ms.push(result.ms);
          slot.conflicts.push(result.conflicts);
        }
      }
    }
    await context.close();
  } finally {
    await yjs.close();
    await srvra.close();
  }
  console.log(`\nConflicts: two clients each write ${changes} changes at once until both hold the same values (median of ${RUNS} runs, ms)\n`);
  console.log(`${'library'.padEnd(34)}${'own keys'.padEnd(12)}${'same keys'.padEnd(12)}${'overhead'.padEnd(12)}conflicts settled`);
  console.log('-'.repeat(88));
  for (const [lib, name] of [['srvra', 'srvra-sync + srvra-sync-server'], ['yjs', 'Yjs + y-websocket server']]) {
    const own = median(results[`${lib} false`].ms);
    const same = median(results[`${lib} true`].ms);
    const settled = results[`${lib} true`].conflicts[0];
    const overhead = `${(((same - own) / own) * 100).toFixed(1)}%`;
    console.log(`${name.padEnd(34)}${own.toFixed(0).padEnd(12)}${same.toFixed(0).padEnd(12)}${overhead.padEnd(12)}${settled ?? 'n/a (merged silently)'}`);
  }
  return results;
}
