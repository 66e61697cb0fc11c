// One small API over the three browser engines CI runs (SPEC 14), so a flow is written
// once: Chromium through playwright-core, Firefox (Debian's firefox-esr) through
// puppeteer-core over WebDriver BiDi, WebKit (WebKitGTK's MiniBrowser) through
// WebKitWebDriver's W3C WebDriver HTTP API under Xvfb. No browser is downloaded.
//
//   const engine = await launchEngine('firefox');
//   const context = await engine.newContext();   // its own profile: another device
//   const page = await context.newPage();        // pages of one context: tabs
//   await page.goto(url); await page.evaluate((arg) => ..., arg);
//   await page.waitFor(() => cond, arg); await page.reload(); await page.screenshot(png);
//   await engine.close();
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { launchChromium } from '../../scripts/browser.mjs';
import { freePort } from './sync-server.mjs';

export const ENGINES = ['chromium', 'firefox', 'webkit'];

const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
const MINIBROWSER = process.env.MINIBROWSER_PATH ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

/** Launches engine `name` (one of `ENGINES`). */
export async function launchEngine(name) {
  if (name === 'chromium') return chromiumEngine();
  if (name === 'firefox') return firefoxEngine();
  if (name === 'webkit') return webkitEngine();
  throw new Error(`unknown engine ${name}`);
}

/** Polls `check()` until it is truthy; throws with `what` after `timeout` ms. */
async function poll(check, timeout, what) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A playwright or puppeteer context in this module's API; `waitFor(page, fn, arg,
 * timeout)` calls the library's `waitForFunction` (their arguments differ).
 */
function wrapContext(context, waitFor) {
  return {
    async newPage() {
      const page = await context.newPage();
      return {
        goto: (url) => page.goto(url),
        evaluate: (fn, arg) => page.evaluate(fn, arg),
        waitFor: (fn, arg, timeout = 20_000) => waitFor(page, fn, arg, timeout),
        reload: () => page.reload(),
        screenshot: (path) => page.screenshot({ path }),
        close: () => page.close(),
      };
    },
    close: () => context.close(),
  };
}

async function chromiumEngine() {
  const browser = await launchChromium();
  return {
    name: 'chromium',
    async newContext() {
      const context = await browser.newContext();
      return wrapContext(context, (page, fn, arg, timeout) => page.waitForFunction(fn, arg, { timeout, polling: 20 }));
    },
    close: () => browser.close(),
  };
}

async function firefoxEngine() {
  const puppeteer = (await import('puppeteer-core')).default;
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    // Quieter and offline: no updates, telemetry or remote settings.
    extraPrefsFirefox: { 'app.update.enabled': false, 'datareporting.policy.dataSubmissionEnabled': false },
  });
  return {
    name: 'firefox',
    async newContext() {
      const context = await browser.createBrowserContext();
      return wrapContext(context, (page, fn, arg, timeout) => page.waitForFunction(fn, { timeout, polling: 20 }, arg));
    },
    close: () => browser.close(),
  };
}

/** A W3C WebDriver session on a driver at `base`. */
async function webdriver(base, capabilities) {
  const call = async (method, path, body) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const { value } = await response.json();
    if (value?.error) throw new Error(`WebDriver ${path}: ${value.error}: ${value.message}`);
    return value;
  };
  const { sessionId } = await call('POST', '/session', { capabilities: { alwaysMatch: capabilities } });
  return (method, path, body) => call(method, `/session/${sessionId}${path}`, body);
}

// Runs `source` (a function's text) with `arg` in the page; resolves its result, or
// rejects with its error (WebDriver's async script, which every engine has).
const RUN = `const [source, arg, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
Promise.resolve().then(() => (0, eval)('(' + source + ')')(arg))
  .then((value) => done({ undef: value === undefined, value: value === undefined ? null : value }),
        (error) => done({ error: String(error && error.stack || error) }));`;

async function webkitEngine() {
  const drivers = [];
  return {
    name: 'webkit',
    // One WebKitWebDriver (and MiniBrowser, with its own data) per context.
    async newContext() {
      const port = await freePort();
      const driver = spawn('xvfb-run', ['-a', 'WebKitWebDriver', `--port=${port}`], { stdio: 'ignore', detached: true });
      drivers.push(driver);
      const base = `http://127.0.0.1:${port}`;
      await poll(() => fetch(`${base}/status`).then((r) => r.ok, () => false), 20_000, 'WebKitWebDriver');
      const session = await webdriver(base, {
        browserName: 'MiniBrowser',
        'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
        timeouts: { script: 60_000 },
      });
      let first = true;
      const on = async (handle) => session('POST', '/window', { handle });
      return {
        async newPage() {
          const handle = first
            ? await session('GET', '/window')
            : (await session('POST', '/window/new', { type: 'tab' })).handle;
          first = false;
          const evaluate = async (fn, arg) => {
            await on(handle);
            const result = await session('POST', '/execute/async', { script: RUN, args: [fn.toString(), arg ?? null] });
            if (result?.error) throw new Error(result.error);
            return result.undef ? undefined : result.value;
          };
          return {
            goto: async (url) => {
              await on(handle);
              await session('POST', '/url', { url });
            },
            evaluate,
            waitFor: (fn, arg, timeout = 20_000) => poll(() => evaluate(fn, arg), timeout, fn.toString()),
            reload: async () => {
              await on(handle);
              await session('POST', '/refresh', {});
            },
            screenshot: async (path) => {
              await on(handle);
              const png = await session('GET', '/screenshot');
              writeFileSync(path, Buffer.from(png, 'base64'));
            },
            close: async () => {
              await on(handle);
              await session('DELETE', '/window');
            },
          };
        },
        async close() {
          await session('DELETE', '').catch(() => {});
          try { process.kill(-driver.pid, 'SIGTERM'); } catch { /* gone */ }
        },
      };
    },
    async close() {
      for (const driver of drivers) {
        try { process.kill(-driver.pid, 'SIGTERM'); } catch { /* gone */ }
      }
    },
  };
}
