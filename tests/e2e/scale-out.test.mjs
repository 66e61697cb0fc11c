// Several server instances on one PostgreSQL database (SPEC §12), with devices in
// Chromium: devices on different instances converge, and when an instance is killed
// mid-burst its device moves to the next URL and loses nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { useBrowser } from './harness.mjs';
import { openPeer, waitFor } from './peers.mjs';
import { usePostgres } from './postgres.mjs';
import { startSyncServer } from './sync-server.mjs';

const env = useBrowser();
const pg = usePostgres();
const instances = [];

before(async () => {
  for (let i = 0; i < 2; i += 1) {
    instances.push(await startSyncServer(['--postgres', pg.url, '--head-check-ms', '200']));
  }
});

after(async () => {
  for (const instance of instances) await instance.stop();
  pg.stop();
});

test('devices on two instances converge, and a device whose instance dies moves on losing nothing', async () => {
  const [one, two] = instances;
  const a = await openPeer(env, [one.ws, two.ws], 'scale', 'scale-a');
  const b = await openPeer(env, [two.ws, one.ws], 'scale', 'scale-b');
  assert.equal(await a.page.evaluate(() => sync.getStatistics().url), one.ws);
  assert.equal(await b.page.evaluate(() => sync.getStatistics().url), two.ws);

  // Both ways, through the shared database.
  await a.page.evaluate(() => sync.setState('from.a', { n: 1 }));
  await waitFor(b.page, () => sync.getState('from.a')?.n === 1);
  await b.page.evaluate(() => sync.setState('from.b', 'hello'));
  await waitFor(a.page, () => sync.getState('from.b') === 'hello');
  // Concurrent writes to one key through both instances settle on one value everywhere.
  await Promise.all([
    a.page.evaluate(() => { for (let i = 0; i < 50; i += 1) sync.setState('shared', `a${i}`); }),
    b.page.evaluate(() => { for (let i = 0; i < 50; i += 1) sync.setState('shared', `b${i}`); }),
  ]);
  for (const peer of [a, b]) {
    await waitFor(peer.page, () => sync.getStatistics().outboxLength === 0 && sync.status === 'synced');
  }
  // Each may still be receiving the other's last changes: wait until they agree.
  const read = (peer) => peer.page.evaluate(() => {
    const { value, version, pending } = sync.getState('shared', { withMetadata: true });
    return JSON.stringify({ value, version, pending });
  });
  const deadline = Date.now() + 20_000;
  while ((await read(a)) !== (await read(b))) {
    assert.ok(Date.now() < deadline, `a ${await read(a)} and b ${await read(b)} never agree`);
    await new Promise((r) => setTimeout(r, 50));
  }

  // A burst from device a, ending with a batch; its instance is killed part-way.
  const burst = a.page.evaluate(async () => {
    for (let i = 0; i < 300; i += 1) {
      sync.setState(`burst.k${i}`, i);
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 10));
    }
    sync.batch([
      { key: 'burst.done', value: true },
      { key: 'burst.count', value: 300 },
    ]);
  });
  await waitFor(b.page, () => typeof sync.getState('burst.k40') === 'number');
  await one.kill();
  await burst;
  await waitFor(a.page, (url) => sync.getStatistics().url === url && sync.status === 'synced', two.ws);
  await waitFor(a.page, () => sync.getStatistics().outboxLength === 0);
  await waitFor(b.page, () => sync.getState('burst.done') === true && sync.getState('burst.count') === 300);
  const missing = await b.page.evaluate(() => {
    const gone = [];
    for (let i = 0; i < 300; i += 1) if (sync.getState(`burst.k${i}`) !== i) gone.push(i);
    return gone;
  });
  assert.deepEqual(missing, []);
  const metrics = await two.metrics();
  assert.match(metrics, /srvra_changes_replayed_total [1-9]/);
  // Instance two accepted b's 51 changes and the rest of a's burst: a moved mid-burst.
  const accepted = Number(metrics.match(/srvra_changes_accepted_total (\d+)/)[1]);
  assert.ok(accepted > 51, `instance two accepted ${accepted} changes`);
  await a.context.close();
  await b.context.close();
});
