import { z } from 'zod';
import { DATE_RANGE, isStorableDate } from '../events/storable-date';
import { SHORT_TEXT_LENGTH } from '../db/column-limits';

/** The message types of the Segment spec, which RudderStack shares. */
export const MESSAGE_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/**
 * A date-time as SDKs send it (ISO 8601), from year 0001 to 9999 (see `storable-date.ts`); one
 * that does not parse, or lies outside that range, breaks the spec.
 */
export const isoDateTime = z
  .string()
  .transform((s) => new Date(s))
  .refine((d) => !Number.isNaN(d.getTime()), 'must be an ISO 8601 date-time')
  .refine(isStorableDate, `must be ${DATE_RANGE}`);

/**
 * An id of a person, group or alias. SDKs accept numbers and stringify them; an empty or null
 * one is taken as absent, as Segment does, so `{userId: "", anonymousId: "a1"}` is anonymous.
 */
const sdkId = z.preprocess(
  (v) => (v === null || v === '' ? undefined : v),
  z
    .union([z.string(), z.number()])
    .transform(String)
    .pipe(z.string().max(SHORT_TEXT_LENGTH, `must be at most ${SHORT_TEXT_LENGTH} characters`))
    .optional(),
);

const object = z.record(z.string(), z.unknown()).nullable().optional();

/**
 * One message, as checked at the edge. Unknown fields are kept (SDKs add their own, such as
 * `_metadata` and `integrations`); what the spec requires of each type is checked below, and a
 * message breaking it is stored failed with the reason rather than refusing its whole request.
 */
export const messageSchema = z
  .looseObject({
    type: z.enum(MESSAGE_TYPES, { error: `must be one of ${MESSAGE_TYPES.join(', ')}` }),
    messageId: z.string().min(1, 'must not be empty').max(SHORT_TEXT_LENGTH).optional(),
    userId: sdkId,
    anonymousId: sdkId,
    groupId: sdkId,
    previousId: sdkId,
    event: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(SHORT_TEXT_LENGTH, `must be at most ${SHORT_TEXT_LENGTH} characters`)
      .optional(),
    name: z
      .string()
      .trim()
      .max(SHORT_TEXT_LENGTH, `must be at most ${SHORT_TEXT_LENGTH} characters`)
      .nullable()
      .optional(),
    timestamp: isoDateTime.optional(),
    originalTimestamp: isoDateTime.optional(),
    sentAt: isoDateTime.optional(),
    properties: object,
    traits: object,
    context: object,
  })
  .superRefine((m, ctx) => {
    const missing = (path: string, why: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message: why });
    if (m.userId === undefined && m.anonymousId === undefined) {
      missing('userId', 'a message needs a userId or an anonymousId');
    }
    if (m.type === 'track' && m.event === undefined) missing('event', 'a track needs an event');
    if (m.type === 'group' && m.groupId === undefined)
      missing('groupId', 'a group needs a groupId');
    if (m.type === 'alias' && m.previousId === undefined) {
      missing('previousId', 'an alias needs a previousId');
    }
  });
export type Message = z.infer<typeof messageSchema>;

/**
 * The envelope of `/v1/batch` (and `/v1/import`, `/v1/b`). Each message is checked on its own
 * (see `messageSchema`); only an envelope that is not one at all fails the request.
 */
export const batchEnvelopeSchema = z.looseObject({
  batch: z.array(z.unknown()),
  sentAt: isoDateTime.optional(),
  writeKey: z.string().optional(),
});
