import { UnauthorizedError } from '../../src/errors';
import { findUnstorable } from '../../src/http/storable-json';
import { mapMessage } from '../../src/tracking/message-mapping';
import { writeKeyOfBody, writeKeyOfHeader } from '../../src/tracking/tracking-auth';

describe('mapMessage', () => {
  const base = {
    messageId: 'm-1',
    anonymousId: 'a-1',
    timestamp: '2026-12-02T10:00:00.000Z',
    sentAt: '2026-12-02T10:00:05.000Z',
    context: { ip: '203.0.113.9' },
    writeKey: 'evt_secret',
  };

  it.each([
    [{ type: 'track', event: 'Order Completed' }, 'track', 'Order Completed'],
    [{ type: 'page', name: 'Pricing' }, 'page', 'Pricing'],
    [{ type: 'page', name: null }, 'page', 'page'],
    [{ type: 'screen' }, 'screen', 'screen'],
    [{ type: 'identify', traits: { a: 1 } }, 'identify', 'identify'],
    [{ type: 'group', groupId: 'g' }, 'group', 'group'],
    [{ type: 'alias', userId: 'u', previousId: 'a-1' }, 'alias', 'alias'],
  ])('%j is a %s named %s', (message, type, name) => {
    const { event, rejection } = mapMessage({ ...base, ...message });
    expect(rejection).toBeNull();
    expect(event).toMatchObject({ event_type: type, event_name: name });
  });

  it('keeps everything but the envelope in the payload, ids and times in their fields', () => {
    const { event } = mapMessage({
      ...base,
      type: 'track',
      event: 'Clicked',
      userId: 42,
      properties: { x: 1 },
      _metadata: { jsRuntime: 'node' },
    });
    expect(event).toEqual({
      event_type: 'track',
      event_name: 'Clicked',
      payload: {
        anonymousId: 'a-1',
        userId: 42,
        context: { ip: '203.0.113.9' },
        properties: { x: 1 },
        _metadata: { jsRuntime: 'node' },
      },
      timestamp: new Date(base.timestamp),
      message_id: 'm-1',
      source: 'tracking',
      subject_user_id: '42',
      anonymous_id: 'a-1',
      sent_at: new Date(base.sentAt),
    });
  });

  it('takes originalTimestamp when there is no timestamp', () => {
    const { event } = mapMessage({
      ...base,
      type: 'identify',
      timestamp: undefined,
      originalTimestamp: '2026-12-01T00:00:00Z',
    });
    expect(event.timestamp).toEqual(new Date('2026-12-01T00:00:00Z'));
  });

  it.each([
    [{ type: 'track' }, 'validation_error: $.event: a track needs an event'],
    [
      { type: 'track', event: 'E', anonymousId: undefined },
      'validation_error: $.userId: a message needs a userId or an anonymousId',
    ],
    [{ type: 'group' }, 'validation_error: $.groupId: a group needs a groupId'],
    [{ type: 'alias' }, 'validation_error: $.previousId: an alias needs a previousId'],
    [{ type: 'visit' }, expect.stringMatching(/^validation_error: \$\.type: must be one of/)],
    [
      { type: 'track', event: 'E', timestamp: 'yesterday' },
      'validation_error: $.timestamp: must be an ISO 8601 date-time',
    ],
    [
      { type: 'track', event: 'E', properties: { bad: 'a\u0000b' } },
      expect.stringMatching(/^validation_error: \$\.properties\.bad contains a NUL/),
    ],
  ])('rejects %j with why', (message, reason) => {
    const { event, rejection } = mapMessage({ ...base, ...message });
    expect(rejection).toEqual(reason);
    // Still mapped as far as it goes, so the failed event can be found.
    expect(event).toMatchObject({ message_id: 'm-1' });
  });

  it.each([
    ['a NUL key', { properties: { '\u0000': 1 } }, '$.properties["\\u0000"] key contains a NUL'],
    ['a lone surrogate key', { context: { a: { '\ud800': 1 } } }, '$.context.a["\\ud800"] key'],
    ['a NUL in the event name', { event: 'E\u0000' }, '$.event contains a NUL'],
  ])('rejects %s with a reason that is itself storable', (_what, message, reason) => {
    const { event, rejection } = mapMessage({ ...base, type: 'track', ...message });
    expect(rejection).toContain(`validation_error: ${reason}`);
    expect(findUnstorable(rejection, 1)).toBeNull();
    expect(findUnstorable(event, 64)).toBeNull();
  });

  it.each(['0000-01-01T00:00:00Z', '+010000-01-01T00:00:00Z', '-000001-06-01T00:00:00Z'])(
    'rejects a date-time outside years 0001 to 9999 (%s), in every date field',
    (date) => {
      for (const field of ['timestamp', 'originalTimestamp', 'sentAt']) {
        const { event, rejection } = mapMessage({ ...base, type: 'track', [field]: date });
        expect(rejection).toBe(
          `validation_error: $.${field}: must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z`,
        );
        // The failed event keeps no date it could not store.
        expect([event.timestamp, event.sent_at]).not.toContainEqual(new Date(date));
      }
    },
  );

  it('rejects what is not an object', () => {
    expect(mapMessage([1, 2]).rejection).toBe(
      'validation_error: $: a message must be a JSON object',
    );
  });
});

describe('writeKeyOfHeader, writeKeyOfBody', () => {
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;

  it('reads the Basic user name, a Bearer token, or the body', () => {
    expect(writeKeyOfHeader(basic('evw_key:'))).toBe('evw_key');
    expect(writeKeyOfHeader(basic('evw_key'))).toBe('evw_key');
    expect(writeKeyOfHeader('Bearer evw_key')).toBe('evw_key');
    expect(writeKeyOfHeader('')).toBeNull();
    expect(writeKeyOfBody({ writeKey: 'evw_key' })).toBe('evw_key');
    expect(writeKeyOfBody({ batch: [] })).toBeNull();
  });

  it('refuses another scheme rather than looking further', () => {
    expect(() => writeKeyOfHeader('Digest x')).toThrow(UnauthorizedError);
  });
});
