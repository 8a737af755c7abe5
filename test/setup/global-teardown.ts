export default async function globalTeardown(): Promise<void> {
  await globalThis.__temporalDevServer?.stop();
  await globalThis.__embeddedPostgres?.stop();
}
