import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../../src/config';
import { connectOnce, connectionOptions } from '../../src/temporal/connection-options';
import { Harness } from '../support/harness';
import {
  PROXY_SERVER_NAME,
  makeTestCertificates,
  removeTestCertificates,
  startTlsProxy,
  type TestCertificates,
  type TlsProxy,
} from '../support/tls-proxy';
import { readTestEnv } from '../setup/test-env';

// Connecting to a Temporal that wants TLS, mTLS or an API key, configured with the variables of
// `@temporalio/envconfig`, through nginx terminating TLS in front of the dev server.

let certs: TestCertificates;
let proxy: TlsProxy;

beforeAll(async () => {
  certs = makeTestCertificates();
  proxy = await startTlsProxy(certs, readTestEnv().temporalAddress);
});
afterAll(async () => {
  await proxy?.stop();
  if (certs) removeTestCertificates(certs);
});

const event = { event_name: 'page_view', event_type: 'engagement', payload: { page: '/' } };

/** The variables of a Temporal Cloud-like setup: TLS with an API key. */
const apiKeyEnv = () => ({
  TEMPORAL_ADDRESS: proxy.apiKeyAddress,
  TEMPORAL_API_KEY: proxy.apiKey,
  // The proxy's certificate comes from the test CA and names PROXY_SERVER_NAME, not 127.0.0.1.
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
  TEMPORAL_TLS_SERVER_NAME: PROXY_SERVER_NAME,
});

const mtlsEnv = () => ({
  TEMPORAL_ADDRESS: proxy.mtlsAddress,
  TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCert,
  TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKey,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert,
  TEMPORAL_TLS_SERVER_NAME: PROXY_SERVER_NAME,
});

async function processOneEvent(env: Record<string, string>): Promise<void> {
  const h = await Harness.start({ env });
  try {
    const user = await h.createUser();
    const res = await h.request('POST', '/api/v1/events', { token: user.token, body: event });
    expect(res.status).toBe(202);
    expect((await h.waitForEvent(user.token, res.body.event_id)).status).toBe('processed');
  } finally {
    await h.close();
  }
}

/** Connects as the worker and as the API would, and asks the server something. */
async function reach(env: Record<string, string>): Promise<void> {
  const { temporal } = loadConfig(env);
  const native = await connectOnce(temporal, () =>
    NativeConnection.connect(connectionOptions(temporal)),
  );
  await native.close();
  const client = await connectOnce(temporal, () =>
    Connection.connect({ ...connectionOptions(temporal), connectTimeout: 5000 }),
  );
  try {
    await client.workflowService.getSystemInfo({});
  } finally {
    await client.close();
  }
}

describe('API key (the Temporal Cloud way)', () => {
  it('processes an event with API and worker both connecting through the proxy', async () => {
    await processOneEvent(apiKeyEnv());
    expect(proxy.requestCount(proxy.apiKeyAddress)).toBeGreaterThan(0);
  });

  it('turns TLS on for an API key, and a wrong key fails the worker at start', async () => {
    expect(loadConfig(apiKeyEnv()).temporal.tls).toBeTruthy();
    const before = proxy.requestCount(proxy.apiKeyAddress);
    const started = Date.now();
    await expect(reach({ ...apiKeyEnv(), TEMPORAL_API_KEY: 'not-the-key' })).rejects.toThrow(
      /Cannot connect to Temporal at .*API key set.*invalid API key/,
    );
    // A clean failure: a few calls, not a retry storm.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(proxy.requestCount(proxy.apiKeyAddress) - before).toBeLessThan(10);
  });
});

describe('mTLS', () => {
  it('processes an event with a client certificate the proxy requires', async () => {
    await processOneEvent(mtlsEnv());
  });

  it('reads the same settings from a TOML profile', async () => {
    const file = join(certs.dir, 'temporal.toml');
    writeFileSync(
      file,
      `[profile.prod]
address = "${proxy.mtlsAddress}"
namespace = "default"
[profile.prod.tls]
client_cert_path = "${certs.clientCert}"
client_key_path = "${certs.clientKey}"
server_ca_cert_path = "${certs.caCert}"
server_name = "${PROXY_SERVER_NAME}"
`,
    );
    const env = { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' };
    expect(loadConfig(env).temporal).toMatchObject({
      address: proxy.mtlsAddress,
      tls: { serverNameOverride: PROXY_SERVER_NAME, clientCertPair: expect.any(Object) },
    });
    await reach(env);
  });

  it('fails at start, quickly, with a certificate the proxy does not trust', async () => {
    const before = proxy.requestCount(proxy.mtlsAddress);
    const started = Date.now();
    await expect(
      reach({
        ...mtlsEnv(),
        TEMPORAL_TLS_CLIENT_CERT_PATH: certs.rogueClientCert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: certs.rogueClientKey,
      }),
    ).rejects.toThrow(/Cannot connect to Temporal at .*TLS mtls.*400 Bad Request/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(proxy.requestCount(proxy.mtlsAddress) - before).toBeLessThan(10);
  });

  it('fails without a client certificate', async () => {
    const { TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, ...tlsOnly } = mtlsEnv();
    void TEMPORAL_TLS_CLIENT_CERT_PATH;
    void TEMPORAL_TLS_CLIENT_KEY_PATH;
    await expect(reach(tlsOnly)).rejects.toThrow();
  });
});

describe('server TLS only', () => {
  it('connects with the server CA and name override', async () => {
    await reach({ ...mtlsEnv(), TEMPORAL_ADDRESS: proxy.tlsAddress });
  });

  it('fails when the server certificate is not trusted (system roots only)', async () => {
    await expect(
      reach({ TEMPORAL_ADDRESS: proxy.tlsAddress, TEMPORAL_TLS: 'true' }),
    ).rejects.toThrow(/Cannot connect to Temporal.*UnknownIssuer/);
  });
});

describe('validated at start, before any connection', () => {
  const problemsOf = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).message;
    }
    throw new Error('loadConfig accepted the configuration');
  };

  it('names the variable of a key that is not the certificate’s', () => {
    expect(
      problemsOf({ ...mtlsEnv(), TEMPORAL_TLS_CLIENT_KEY_PATH: certs.rogueClientKey }),
    ).toMatch(/TEMPORAL_TLS_CLIENT_KEY_PATH: is not the key of the client certificate/);
  });

  it('names the variable of a file that does not exist', () => {
    expect(problemsOf({ ...mtlsEnv(), TEMPORAL_TLS_CLIENT_CERT_PATH: '/nonexistent.crt' })).toMatch(
      /TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read \/nonexistent.crt/,
    );
  });

  it('refuses half a client pair and a file that is not a certificate', () => {
    const { TEMPORAL_TLS_CLIENT_KEY_PATH, ...certOnly } = mtlsEnv();
    void TEMPORAL_TLS_CLIENT_KEY_PATH;
    expect(problemsOf(certOnly)).toMatch(/TEMPORAL_TLS_CLIENT_KEY_PATH: mTLS needs both/);
    expect(problemsOf({ ...mtlsEnv(), TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.clientKey })).toMatch(
      /TEMPORAL_TLS_SERVER_CA_CERT_PATH: is not a PEM certificate/,
    );
  });

  it('names a profile that the TOML file lacks', () => {
    const file = join(certs.dir, 'empty.toml');
    writeFileSync(file, '[profile.default]\naddress = "127.0.0.1:7233"\n');
    expect(problemsOf({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' })).toMatch(
      /TEMPORAL_PROFILE: Profile 'cloud' not found/,
    );
  });
});
