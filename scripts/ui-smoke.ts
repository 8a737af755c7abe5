/**
 * `npm run ui:smoke [-- --out file.png]`: checks that an operator finds a processed event's
 * workflow in the Temporal Web UI by `EventId="<id>"`, in Debian's headless Chromium (`apt-get
 * install chromium`; playwright-core never downloads one). The screenshot (default
 * `.data/ui-smoke.png`) is saved either way.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { runMain } from '../src/run-main';
import { startStack, waitForCount, waitForStatus } from './support/stack';

const ROOT = path.resolve(__dirname, '..');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'].concat(
  ['background-networking', 'component-update', 'sync'].map((f) => `--disable-${f}`),
);
/** The UI is a single-page app that queries the server after loading: allow it some time. */
const APPEAR_TIMEOUT_MS = 60_000;

const say = (msg: string): void => console.log(`[ui-smoke] ${msg}`);

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const out = path.resolve(ROOT, values.out ?? '.data/ui-smoke.png');
  const started = Date.now();
  const stack = await startStack({ label: 'uismoke', withUi: true, log: say });
  let browser: Browser | undefined;
  try {
    const user = await stack.createUser();
    const event = await stack.postEvent(user.token, {
      event_name: 'page_view',
      event_type: 'engagement',
      payload: { page: '/home', duration: 45 },
    });
    await waitForStatus(stack, event, 'processed');
    await waitForCount(stack, `EventId="${event.eventId}" AND EventStatus="processed"`, 1);
    say(`event ${event.eventId} processed`);
    const id = event.workflowId;

    const query = encodeURIComponent(`EventId="${event.eventId}"`);
    const url = `${stack.uiUrl!.replace('//localhost:', '//127.0.0.1:')}/namespaces/${stack.config.temporal.namespace}/workflows?query=${query}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    say(`opening ${url}`);
    const shownAt = Date.now();
    await page.goto(url);
    const found = await page
      .getByText(id, { exact: true })
      .first()
      .waitFor({ state: 'visible', timeout: APPEAR_TIMEOUT_MS })
      .then(() => true)
      .catch(() => false);
    await mkdir(path.dirname(out), { recursive: true });
    await page.screenshot({ path: out, fullPage: true });
    say(`screenshot saved to ${path.relative(ROOT, out)}`);
    if (!found) {
      console.error(`✗ workflow ${id} not listed within ${APPEAR_TIMEOUT_MS / 1000} s`);
      return 1;
    }
    const total = ((Date.now() - started) / 1000).toFixed(1);
    say(`✓ workflow ${id} listed after ${Date.now() - shownAt} ms (${total} s in all)`);
    return 0;
  } finally {
    await browser?.close();
    await stack.stop();
  }
}

runMain(main);
