// Starts the real `srvra-sync-server` binary for end-to-end tests: on a free loopback
// port, with its SQLite data in a temporary directory, restartable (also after SIGKILL)
// on the same port and data.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { root } from './harness.mjs';

const binary = process.env.SRVRA_SERVER_BIN ?? join(root, 'target/debug/srvra-sync-server');

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url, child) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('server did not become healthy within 20 s');
}

/** A server for one test file: started in `before`, stopped in `after`. */
export function useSyncServer(extraArgs = []) {
  const server = {};
  before(async () => {
    Object.assign(server, await startSyncServer(extraArgs));
  });
  after(async () => {
    await server.stop?.();
  });
  return server;
}

/** A running server; `kill()` sends SIGKILL, `restart()` starts it again on the same data. */
export async function startSyncServer(extraArgs = []) {
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'srvra-e2e-'));
  const handle = {
    port,
    data,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/sync`,
    child: null,
    async start() {
      const child = spawn(binary, ['--listen', `127.0.0.1:${port}`, '--data', data, ...extraArgs], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      this.child = child;
      await waitHealthy(this.http, child);
    },
    async kill() {
      const child = this.child;
      if (child === null || child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      await this.kill();
      await this.start();
    },
    async metrics() {
      return (await fetch(`${this.http}/metrics`)).text();
    },
    async stop() {
      await this.kill();
      rmSync(data, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
