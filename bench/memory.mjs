// Memory for `npm run bench`: what a page holds for n keys (JS heap, from Chromium's own
// counter after a full garbage collection, plus the wasm memory, which only grows),
// srvra-sync next to Yjs, each in a fresh page.

/** Measures both libraries in `browser` against pages served at `pageUrl`. */
export async function runMemoryBench({ browser, pageUrl, n = 100_000 }) {
  const rows = [];
  for (const lib of ['srvra', 'yjs']) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`page error (${lib}):`, error.message));
    await page.goto(`${pageUrl}/memory.html`);
    await page.waitForFunction(() => window.benchReady === true);
    const cdp = await context.newCDPSession(page);
    const usage = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      const heap = await cdp.send('Runtime.getHeapUsage');
      return { js: heap.usedSize, buffers: await page.evaluate(() => window.wasmBytes()) };
    };
    const before = await usage();
    await page.evaluate(([l, count]) => window.fill(l, count), [lib, n]);
    const after = await usage();
    rows.push({
      lib: lib === 'srvra' ? 'srvra-sync (offline cache off)' : 'Yjs (one Y.Map)',
      js: after.js - before.js,
      buffers: after.buffers - before.buffers,
    });
    await context.close();
  }
  const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  console.log(`\nMemory held for ${n.toLocaleString('en-US')} keys (values { n, s }), after a full GC, one run\n`);
  console.log(`${'library'.padEnd(34)}${'JS heap'.padEnd(12)}${'wasm memory'.padEnd(16)}total`);
  console.log('-'.repeat(72));
  for (const row of rows) {
    console.log(`${row.lib.padEnd(34)}${mb(row.js).padEnd(12)}${mb(row.buffers).padEnd(16)}${mb(row.js + row.buffers)}`);
  }
  return rows;
}
