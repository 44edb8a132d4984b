// Launches Debian's chromium through playwright-core (never a downloaded browser).
import { chromium } from 'playwright-core';

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Opens the page and collects console errors and page errors. */
export async function openPage(browser, url, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  await page.goto(url);
  return { context, page, errors };
}

/** Resolves with the next explanation of <layer-saliency id=app>, or rejects with its error. */
export function nextResult(page, timeout = 120000) {
  return page.evaluate((timeout) => new Promise((resolve, reject) => {
    const app = document.getElementById('app');
    const done = (fn) => (e) => {
      clearTimeout(timer);
      app.removeEventListener('layer-saliency-result', ok);
      app.removeEventListener('layer-saliency-error', bad);
      fn(e);
    };
    const ok = done((e) => resolve(e.detail));
    const bad = done((e) => reject(new Error(e.message)));
    const timer = setTimeout(() => bad({ message: 'timed out waiting for an explanation' }), timeout);
    app.addEventListener('layer-saliency-result', ok);
    app.addEventListener('layer-saliency-error', bad);
  }), timeout);
}

/** Waits until the app has a result (the first explanation after load). */
export async function firstResult(page, timeout = 180000) {
  await page.waitForFunction(() => document.getElementById('app')?.result, null, { timeout, polling: 250 });
  return page.evaluate(() => document.getElementById('app').result);
}
