import { redactPath } from '../../src/http/redact-path';

describe('redactPath', () => {
  const key = `evw_${'a1B2'.repeat(10)}xyz`;
  const token = `evt_${'Z9-_'.repeat(10)}abc`;

  it('takes the key out of the settings path, whatever its shape', () => {
    expect(redactPath(`/v1/projects/${key}/settings`)).toBe('/v1/projects/[redacted]/settings');
    expect(redactPath('/v1/projects/some-segment-key/settings')).toBe(
      '/v1/projects/[redacted]/settings',
    );
  });

  it('takes out a key anywhere else, encoded or not', () => {
    expect(redactPath(`/api/v1/events/${token}`)).toBe('/api/v1/events/[redacted]');
    expect(redactPath(`/x/evw%5F${'b'.repeat(43)}/y`)).toBe('/x/[redacted]/y');
  });

  it('leaves other paths as they are', () => {
    expect(redactPath('/api/v1/events/0190a1b2-0000-7000-8000-000000000000')).toBe(
      '/api/v1/events/0190a1b2-0000-7000-8000-000000000000',
    );
  });
});
