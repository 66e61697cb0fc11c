// A throw-away PostgreSQL cluster for one test file (scripts/pg-cluster.sh: a temporary
// directory, a free loopback port, a non-root owner), started in `before`; the file's
// `after` calls `stop()` once the servers using it are stopped.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { before } from 'node:test';
import { root } from './harness.mjs';

const script = join(root, 'scripts/pg-cluster.sh');

/** `{ url, stop() }` of a cluster started before the file's tests. */
export function usePostgres() {
  const cluster = {
    stop() {
      if (this.dir) execFileSync('bash', [script, 'stop', this.dir]);
      this.dir = undefined;
    },
  };
  before(() => {
    const [dir, url] = execFileSync('bash', [script, 'start'], { encoding: 'utf8' }).trim().split(' ');
    Object.assign(cluster, { dir, url });
  });
  return cluster;
}
