// Shared set-up of the end-to-end tests: serves the package as `npm pack` ships it
// (installed into target/consumer by scripts/pack.mjs) and the test pages, and opens pages
// in headless Chromium where `window.sdk` is the imported package.
import { after, before } from 'node:test';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../../scripts/browser.mjs';
import { startStaticServer } from '../../scripts/static-server.mjs';
import { packedPackage } from '../../scripts/pack.mjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Starts the server and browser for one test file; returns a handle filled in `before`.
 * `browserArgs()` (called in `before`) adds Chromium flags.
 */
export function useBrowser(extraMounts = {}, browserArgs = () => []) {
  const env = { server: null, browser: null, url: '' };
  before(async () => {
    env.server = await startStaticServer({
      mounts: { '/pkg': packedPackage(), '/': join(root, 'tests/e2e/pages'), ...extraMounts },
    });
    env.url = env.server.url;
    env.browser = await launchChromium(browserArgs());
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.close();
  });
  return env;
}

/** A page with the SDK loaded, in `context` (a fresh one when omitted). */
export async function openSdkPage(env, context) {
  const ctx = context ?? (await env.browser.newContext());
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${env.url}/index.html`);
  await page.waitForFunction(() => window.sdkLoaded === true);
  return { page, context: ctx, errors };
}
