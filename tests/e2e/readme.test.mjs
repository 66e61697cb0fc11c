// Runs the README's examples as a user would: each ```js block that starts with
// `// example: NAME` runs as a module in a fresh page; every `console.log` it prints must
// match the `// → ...` lines of the block, in order.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { root, useBrowser } from './harness.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
// Examples that talk to a server use the one `npm start` runs; here, a test server.
const server = useSyncServer();
const DEFAULT_URL = 'ws://127.0.0.1:8787/sync';
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const examples = [...readme.matchAll(/```js\n(\/\/ example: ([\w-]+)\n[\s\S]*?)```/g)]
  .map(([, code, name]) => ({ name, code }));

test('the README has examples', () => {
  assert.ok(examples.length >= 4, `found ${examples.length}`);
});

for (const { name, code } of examples) {
  test(`README example: ${name}`, async () => {
    const expected = [...code.matchAll(/^\/\/ → (.*?)(?:   \(.*\))?$/gm)].map(([, line]) => line);
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const printed = [];
    const errors = [];
    page.on('console', (message) => {
      if (message.type() === 'log') printed.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${env.url}/index.html`);
    await page.waitForFunction(() => window.sdkLoaded === true);
    const source = code.replaceAll(DEFAULT_URL, server.ws);
    await page.addScriptTag({ type: 'module', content: `${source}\nwindow.exampleDone = true;` });
    await page.waitForFunction(() => window.exampleDone === true || undefined, null, { timeout: 10_000 })
      .catch(() => {});
    assert.deepEqual(errors, []);
    assert.deepEqual(printed, expected);
    await context.close();
  });
}
