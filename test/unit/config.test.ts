import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { DEFAULT_DATABASE_URL } from '../../src/env.schema';

describe('loadConfig', () => {
  it('has working defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c.database.url).toBe(DEFAULT_DATABASE_URL);
    expect(c.processing.maxRetries).toBe(3);
    expect(c.processing.processingTimeoutSec).toBe(300);
    expect(c.api.port).toBe(3000);
    // Metrics on loopback unless configured: the SDK's exporter cannot check METRICS_TOKEN.
    expect(c.metrics).toEqual({
      apiEnabled: true,
      token: undefined,
      workerHost: '127.0.0.1',
      workerPort: 9464,
      sdkHost: '127.0.0.1',
      sdkPort: 9465,
      maxEventTypes: 50,
      maxEventNames: 100,
    });
  });

  it('reads the metrics settings, 0 turning the worker endpoints off', () => {
    const c = loadConfig({
      METRICS_ENABLED: 'false',
      METRICS_TOKEN: 'a-token-of-16-chars',
      WORKER_METRICS_HOST: '0.0.0.0',
      WORKER_METRICS_PORT: '0',
      TEMPORAL_SDK_METRICS_HOST: '10.0.0.5',
      TEMPORAL_SDK_METRICS_PORT: '0',
      WORKER_METRICS_MAX_EVENT_TYPES: '5',
      WORKER_METRICS_MAX_EVENT_NAMES: '7',
    });
    expect(c.metrics).toEqual({
      apiEnabled: false,
      token: 'a-token-of-16-chars',
      workerHost: '0.0.0.0',
      workerPort: 0,
      sdkHost: '10.0.0.5',
      sdkPort: 0,
      maxEventTypes: 5,
      maxEventNames: 7,
    });
  });

  it('takes the public URL of browser settings from PUBLIC_API_URL, else localhost:API_PORT', () => {
    expect(loadConfig({}).api.publicUrl).toBe('http://localhost:3000');
    expect(loadConfig({ API_PORT: '8080' }).api.publicUrl).toBe('http://localhost:8080');
    expect(loadConfig({ PUBLIC_API_URL: 'https://events.example.com/' }).api.publicUrl).toBe(
      'https://events.example.com',
    );
    expect(() => loadConfig({ PUBLIC_API_URL: 'ftp://events.example.com' })).toThrow(
      /PUBLIC_API_URL: /,
    );
    expect(() => loadConfig({ PUBLIC_API_URL: 'https://events.example.com/?a=1' })).toThrow(
      /PUBLIC_API_URL: must have no query or fragment/,
    );
  });

  it('bounds a tracking batch at 2,500 messages unless configured', () => {
    expect(loadConfig({}).api.trackingBatchMaxMessages).toBe(2500);
    expect(loadConfig({ TRACKING_BATCH_MAX_MESSAGES: '500' }).api.trackingBatchMaxMessages).toBe(
      500,
    );
  });

  it('bounds the listing statement at 10 s by default; 0 turns the bound off', () => {
    expect(loadConfig({}).api.listStatementTimeoutMs).toBe(10_000);
    expect(loadConfig({ LIST_STATEMENT_TIMEOUT_MS: '0' }).api.listStatementTimeoutMs).toBe(0);
    expect(loadConfig({ LIST_STATEMENT_TIMEOUT_MS: '2500' }).api.listStatementTimeoutMs).toBe(2500);
    expect(() => loadConfig({ LIST_STATEMENT_TIMEOUT_MS: '-1' })).toThrow(
      /LIST_STATEMENT_TIMEOUT_MS/,
    );
  });

  it('rejects a short METRICS_TOKEN and a METRICS_ENABLED that is not a boolean', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: /);
    expect(() => loadConfig({ METRICS_ENABLED: 'maybe' })).toThrow(/METRICS_ENABLED: /);
  });

  it('reads and coerces values', () => {
    const c = loadConfig({ EVENT_MAX_RETRIES: '5', API_PORT: '8080' });
    expect(c.processing.maxRetries).toBe(5);
    expect(c.api.port).toBe(8080);
  });

  it('names every bad variable', () => {
    let error: unknown;
    try {
      loadConfig({ EVENT_MAX_RETRIES: 'many', DATABASE_URL: 'mysql://x/y', API_PORT: '70000' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const variables = (error as ConfigError).problems.map((p) => p.variable).sort();
    expect(variables).toEqual(['API_PORT', 'DATABASE_URL', 'EVENT_MAX_RETRIES']);
    expect((error as ConfigError).message).toMatch(/EVENT_MAX_RETRIES: /);
  });
});

describe('loadConfig: beyond one machine', () => {
  it('defaults to the local dev server over plain gRPC, no proxy trust, tracing off', () => {
    const c = loadConfig({});
    expect(c.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default' });
    expect(c.temporal.tls).toBeUndefined();
    expect(c.temporal.apiKey).toBeUndefined();
    expect(c.api.trustProxyHops).toBe(0);
    expect(c.tracing).toEqual({ otlpEndpoint: undefined, serviceName: 'event-ingestion' });
  });

  it('reads the Temporal Cloud variables: an API key turns TLS on', () => {
    const c = loadConfig({
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'ns.acct',
      TEMPORAL_API_KEY: 'key',
    });
    expect(c.temporal).toMatchObject({
      address: 'ns.acct.tmprl.cloud:7233',
      namespace: 'ns.acct',
      apiKey: 'key',
      tls: true,
    });
  });

  it('hands envconfig the validated variables, the gRPC metadata family and the default profile file', () => {
    const home = mkdtempSync(join(tmpdir(), 'config-home-'));
    try {
      mkdirSync(join(home, '.config', 'temporalio'), { recursive: true });
      writeFileSync(
        join(home, '.config', 'temporalio', 'temporal.toml'),
        '[profile.default]\naddress = "from-profile:7233"\nnamespace = "profiled"\n',
      );
      const c = loadConfig({
        HOME: home,
        TEMPORAL_NAMESPACE: 'from-env',
        TEMPORAL_GRPC_META_X_TEAM: 'ingest',
      });
      expect(c.temporal).toMatchObject({
        address: 'from-profile:7233',
        namespace: 'from-env',
        metadata: { 'x-team': 'ingest' },
      });
      expect(() => loadConfig({ HOME: home, TEMPORAL_TLS: 'maybe' })).toThrow(/TEMPORAL_TLS/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('trusts X-Forwarded-For only with TRUST_PROXY, and validates the OTLP endpoint', () => {
    expect(loadConfig({ TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '2' }).api.trustProxyHops).toBe(2);
    expect(loadConfig({ TRUST_PROXY_HOPS: '2' }).api.trustProxyHops).toBe(0);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: /,
    );
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing.otlpEndpoint,
    ).toBe('http://collector:4318');
  });
});
