// Starts the real `srvra-sync-server` binary for end-to-end tests: on a free loopback
// port, with its SQLite data in a temporary directory, restartable (also after SIGKILL)
// on the same port and data.
import { spawn } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { root } from './harness.mjs';

const binary = process.env.SRVRA_SERVER_BIN ?? join(root, 'target/debug/srvra-sync-server');

/** A TCP port free on 127.0.0.1 now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// `GET url` answered 200; over https trusting exactly `ca` when given.
function answersOk(url, ca) {
  if (ca === undefined) return fetch(url).then((response) => response.ok);
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    }).on('error', reject);
  });
}

async function waitHealthy(url, child, ca) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if (await answersOk(`${url}/health`, ca)) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('server did not become healthy within 20 s');
}

/**
 * A server for one test file: started in `before`, stopped in `after`. With
 * `tls: () => ({ cert, key, ca })` (PEM file paths and the CA text) it serves `wss://`.
 */
export function useSyncServer(extraArgs = [], { tls } = {}) {
  const server = {};
  before(async () => {
    Object.assign(server, await startSyncServer(extraArgs, { tls: tls?.() }));
  });
  after(async () => {
    await server.stop?.();
  });
  return server;
}

/** A running server; `kill()` sends SIGKILL, `restart()` starts it again on the same data. */
export async function startSyncServer(extraArgs = [], { tls } = {}) {
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'srvra-e2e-'));
  const args = tls === undefined ? extraArgs : ['--tls-cert', tls.cert, '--tls-key', tls.key, ...extraArgs];
  const secure = tls === undefined ? '' : 's';
  const handle = {
    port,
    data,
    http: `http${secure}://127.0.0.1:${port}`,
    ws: `ws${secure}://127.0.0.1:${port}/sync`,
    child: null,
    async start() {
      const child = spawn(binary, ['--listen', `127.0.0.1:${port}`, '--data', data, ...args], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      this.child = child;
      await waitHealthy(this.http, child, tls?.ca);
    },
    async kill() {
      const child = this.child;
      // Already gone (exited, or killed by a signal: then exitCode stays null).
      if (child === null || child.exitCode !== null || child.signalCode !== null) return;
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
