export default async function globalTeardown(): Promise<void> {
  await globalThis.__temporalDevServer?.teardown();
  await globalThis.__embeddedPostgres?.stop();
}
