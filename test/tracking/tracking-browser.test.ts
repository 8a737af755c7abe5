import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { Harness } from '../support/harness';
import { waitForFinishedEvents } from '../support/tracking';

/**
 * analytics.js (`@segment/analytics-next`), unchanged, in headless Chromium, on a page of
 * another origin than the service's, with `cdnURL` set to the service.
 */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/**
 * Where pages reach the service, as configured (PUBLIC_API_URL): the settings send analytics.js
 * there. The browser routes that host to the service under test.
 */
const PUBLIC_URL = 'http://events.example.test';
/** The library's browser build, with the chunks it loads lazily beside it. */
const UMD_DIR = path.dirname(require.resolve('@segment/analytics-next/dist/umd/index.js'));

let h: Harness;
let site: Server;
let siteUrl: string;
let browser: Browser;

beforeAll(async () => {
  h = await Harness.start({ env: { PUBLIC_API_URL: PUBLIC_URL } });
  // The web site: one page and the library, on an origin of its own.
  site = createServer((req, res) => {
    if (req.url === '/analytics.js') {
      void readFile(path.join(UMD_DIR, 'index.js')).then((js) => {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(js);
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>shop</title><script src="/analytics.js"></script>');
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await h?.close();
});

it('a track from analytics.js reaches the service and is processed', async () => {
  const alice = await h.createUser();
  const page = await browser.newPage();
  // Chunks the library loads from its CDN, which is the service here: served from the
  // package, as a site's own bundle of it would.
  await page.route('**/analytics-next/bundles/*', async (route) => {
    const file = path.basename(new URL(route.request().url()).pathname);
    await route.fulfill({
      contentType: 'text/javascript',
      body: await readFile(path.join(UMD_DIR, file)),
    });
  });
  const sent: string[] = [];
  await page.route(`${PUBLIC_URL}/**`, async (route) => {
    const url = new URL(route.request().url());
    sent.push(`${route.request().method()} ${url.pathname}`);
    await route.continue({ url: `${h.baseUrl}${url.pathname}${url.search}` });
  });
  await page.goto(siteUrl);
  const anonymousId = await page.evaluate(
    async ({ writeKey, cdnURL }) => {
      const { AnalyticsBrowser } = (globalThis as any).AnalyticsNext;
      const analytics = AnalyticsBrowser.load({ writeKey, cdnURL });
      const ctx = await analytics.track('Checkout Started', { cart: 3 });
      return ctx.event.anonymousId as string;
    },
    // The write key, which a web page may show: it sends events and reads nothing.
    { writeKey: alice.writeKey, cdnURL: h.baseUrl },
  );
  expect(anonymousId).toEqual(expect.any(String));
  // The settings named the configured host, not the one the page loaded them from.
  expect(sent).toContain('POST /v1/t');

  const [event] = await waitForFinishedEvents(h, alice.token, { anonymous_id: anonymousId }, 1);
  expect(event).toMatchObject({
    status: 'processed',
    event_type: 'track',
    event_name: 'Checkout Started',
    anonymous_id: anonymousId,
    payload: {
      properties: { cart: 3 },
      context: expect.objectContaining({ page: expect.objectContaining({ url: `${siteUrl}/` }) }),
    },
  });
  // analytics.js stamps sentAt on each message: the event time is skew-corrected.
  expect(event.sent_at).toEqual(expect.any(String));
});
