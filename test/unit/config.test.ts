import { ConfigError, DEFAULT_DATABASE_URL, loadConfig } from '../../src/config';

describe('loadConfig', () => {
  it('has working defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c.database.url).toBe(DEFAULT_DATABASE_URL);
    expect(c.processing.maxRetries).toBe(3);
    expect(c.processing.processingTimeoutSec).toBe(300);
    expect(c.api.port).toBe(3000);
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
