import { mayScrape } from '../../src/metrics/scrape-auth';

describe('mayScrape', () => {
  const token = 'metrics-token-0123456789';

  it('lets anyone scrape when no token is configured', () => {
    expect(mayScrape(undefined, undefined)).toBe(true);
    expect(mayScrape('Bearer whatever', undefined)).toBe(true);
  });

  it('wants exactly "Bearer <token>" when one is configured', () => {
    expect(mayScrape(`Bearer ${token}`, token)).toBe(true);
    expect(mayScrape(`bearer ${token}`, token)).toBe(true);
    expect(mayScrape(undefined, token)).toBe(false);
    expect(mayScrape(token, token)).toBe(false);
    expect(mayScrape(`Basic ${token}`, token)).toBe(false);
    expect(mayScrape(`Bearer ${token}x`, token)).toBe(false);
    expect(mayScrape('Bearer ', token)).toBe(false);
  });
});
