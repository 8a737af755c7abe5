/**
 * `npm run ui:smoke [-- --out file.png]`: checks in a real browser that an operator finds an
 * event's workflow in the Temporal Web UI by its search attribute. Starts the service with a dev
 * server that serves the UI (scripts/support/live-stack.ts), processes a real event, opens the
 * UI's workflow list filtered by `EventId="<id>"` in Debian's headless Chromium, waits for the
 * workflow id to appear, and saves a screenshot (default `.data/ui-smoke.png`). Exits 1 when the
 * workflow does not appear; the screenshot is saved either way.
 *
 * Needs `apt-get install chromium`; playwright-core drives it and never downloads a browser.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { startLiveStack } from './support/live-stack';
import { waitForCount, waitForStatus } from './support/wait-for';

const ROOT = path.resolve(__dirname, '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** The UI is a single-page app that queries the server after loading: allow it some time. */
const APPEAR_TIMEOUT_MS = 60_000;

const say = (msg: string): void => console.log(`[ui-smoke] ${msg}`);

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const out = path.resolve(ROOT, values.out ?? '.data/ui-smoke.png');
  const started = Date.now();

  const stack = await startLiveStack({ label: 'uismoke', withUi: true, log: say });
  let browser: Browser | undefined;
  try {
    const user = await stack.createUser();
    const event = await stack.postEvent(user.token, {
      event_name: 'page_view',
      event_type: 'engagement',
      payload: { page: '/home', duration: 45 },
    });
    await waitForStatus(stack, event, 'processed');
    // The list reads Temporal's visibility store, which follows the run by a moment.
    await waitForCount(stack, `EventId="${event.eventId}" AND EventStatus="processed"`, 1);
    say(`event ${event.eventId} processed`);

    const uiUrl = stack.uiUrl!.replace('//localhost:', '//127.0.0.1:');
    const query = `EventId="${event.eventId}"`;
    const url = `${uiUrl}/namespaces/${stack.config.temporal.namespace}/workflows?query=${encodeURIComponent(query)}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    say(`opening ${url}`);
    const shownAt = Date.now();
    await page.goto(url);

    let found = true;
    try {
      await page
        .getByText(event.workflowId, { exact: true })
        .first()
        .waitFor({ state: 'visible', timeout: APPEAR_TIMEOUT_MS });
    } catch {
      found = false;
    }
    await mkdir(path.dirname(out), { recursive: true });
    await page.screenshot({ path: out, fullPage: true });
    say(`screenshot saved to ${path.relative(ROOT, out)}`);
    if (!found) {
      console.error(
        `✗ workflow ${event.workflowId} did not appear within ${APPEAR_TIMEOUT_MS / 1000} s`,
      );
      return 1;
    }
    say(
      `✓ workflow ${event.workflowId} listed after ${Date.now() - shownAt} ms ` +
        `(${((Date.now() - started) / 1000).toFixed(1)} s in all)`,
    );
    return 0;
  } finally {
    await browser?.close();
    await stack.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
