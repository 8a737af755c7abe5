import { z } from 'zod';
import { BEARER_AUTH, errorResponses, jsonResponse, type RouteGroup } from '../http/openapi';
import { SETTINGS_MAX_AGE_SEC } from './browser-settings.routes';
import { MESSAGE_TYPES, type MessageType } from './message.schemas';
import { KEY_IN_BODY_MAX_BYTES } from './tracking-auth';
import { BATCH_PATHS, SINGLE_PATHS, TRACKING_PREFIX } from './tracking.routes';

/*
 * The tracking API in the OpenAPI document. The wire format is Segment's, so the schemas here
 * describe it for readers; the routes check messages with `message.schemas.ts`, whose
 * transforms do not translate to OpenAPI.
 */

const WRITE_KEY_AUTH = 'writeKeyBasic';

/**
 * A key (the write key, or the API token) is accepted in three places; `{}` stands for the
 * body's `writeKey`.
 */
const security: Record<string, string[]>[] = [{ [WRITE_KEY_AUTH]: [] }, { [BEARER_AUTH]: [] }, {}];

const id = z.union([z.string(), z.number()]);
const dateTime = z.string().meta({ example: '2026-12-02T10:30:00.000Z' });

const messageFields = {
  messageId: z.string().optional().meta({
    description: 'Idempotency key: a repeated messageId stores nothing new',
  }),
  userId: id.optional().meta({ description: "Stored as the event's subject_user_id" }),
  anonymousId: id.optional().meta({ description: "Stored as the event's anonymous_id" }),
  timestamp: dateTime.optional().meta({ description: "When it happened, by the client's clock" }),
  originalTimestamp: dateTime.optional().meta({ description: 'Taken when timestamp is absent' }),
  sentAt: dateTime.optional().meta({ description: 'Corrects timestamp for clock skew' }),
  event: z.string().optional().meta({ description: "A track's event name: required for track" }),
  name: z.string().optional().meta({ description: "A page's or screen's name" }),
  properties: z.record(z.string(), z.unknown()).optional(),
  traits: z.record(z.string(), z.unknown()).optional(),
  context: z.record(z.string(), z.unknown()).optional(),
  groupId: id.optional().meta({ description: 'Required for group' }),
  previousId: id.optional().meta({ description: 'Required for alias' }),
  writeKey: z
    .string()
    .optional()
    .meta({
      description: `The write key, if not in a header; then the body is read only up to ${KEY_IN_BODY_MAX_BYTES} bytes`,
    }),
};

const messageSchema = z.looseObject({ type: z.enum(MESSAGE_TYPES), ...messageFields }).meta({
  description:
    'One message of the Segment spec; every message needs a userId or an anonymousId. ' +
    'A message breaking the spec is stored failed with the reason; its request still succeeds.',
});

const batchSchema = (maxMessages: number) =>
  z.looseObject({
    batch: z.array(messageSchema).max(maxMessages),
    sentAt: dateTime.optional().meta({ description: 'Corrects every timestamp for clock skew' }),
    writeKey: messageFields.writeKey,
  });

const successSchema = z.strictObject({ success: z.literal(true) });

/** Tracking bodies: JSON, sent as text/plain by browsers, optionally compressed. */
const body = (schema: z.ZodType) => ({
  required: true,
  description:
    'JSON whatever the Content-Type (browsers send text/plain); Content-Encoding gzip or ' +
    'deflate allowed. The limit applies after decompression. With the key in the body rather ' +
    `than a header, the body is read only up to ${KEY_IN_BODY_MAX_BYTES} bytes.`,
  content: { 'application/json': { schema }, 'text/plain': { schema } },
});

/** What every tracking endpoint may answer. */
function responses() {
  return {
    200: jsonResponse('Accepted; the messages are stored and processing started', successSchema),
    ...errorResponses(401, 429, 500),
    415: {
      ...errorResponses(415)[415]!,
      description: 'unsupported_media_type: a Content-Encoding other than gzip or deflate',
    },
    400: {
      ...errorResponses(400)[400]!,
      description:
        'invalid_json, invalid_request or payload_too_large (a body over the limit, or a batch ' +
        'of more messages than TRACKING_BATCH_MAX_MESSAGES): nothing stored; SDKs do not retry a 400',
    },
  };
}

/** `/v1/*` (see `tracking/tracking.routes.ts`, `browser-settings.routes.ts`). */
export const registerTrackingRoutes =
  (trackingBatchMaxMessages: number): RouteGroup =>
  (registry) => {
    registry.registerComponent('securitySchemes', WRITE_KEY_AUTH, {
      type: 'http',
      scheme: 'basic',
      description:
        'The write key (or the API token) as the user name, with an empty password, as analytics ' +
        'SDKs send. The write key sends events here and is refused by every /api/v1 route.',
    });
    for (const path of BATCH_PATHS) {
      registry.registerPath({
        method: 'post',
        path: `${TRACKING_PREFIX}${path}`,
        tags: ['tracking'],
        summary: `Segment-compatible batch (${path === '/b' ? 'analytics.js' : 'server SDKs'})`,
        description:
          'Accepts a batch of messages as one batch of events, processed by the batch workflow. ' +
          `At most ${trackingBatchMaxMessages} messages; each counts against the rate limit.`,
        security,
        request: { body: body(batchSchema(trackingBatchMaxMessages)) },
        responses: responses(),
      });
    }
    for (const [type, paths] of Object.entries(SINGLE_PATHS) as [MessageType, string[]][]) {
      for (const path of paths) {
        registry.registerPath({
          method: 'post',
          path: `${TRACKING_PREFIX}${path}`,
          tags: ['tracking'],
          summary: `Segment-compatible ${type} call`,
          description: `One message; its type is ${type} whatever the body says.`,
          security,
          request: {
            body: body(z.looseObject({ type: z.literal(type).optional(), ...messageFields })),
          },
          responses: responses(),
        });
      }
    }
    registry.registerPath({
      method: 'get',
      path: `${TRACKING_PREFIX}/projects/{writeKey}/settings`,
      tags: ['tracking'],
      summary: 'Settings analytics.js loads from its cdnURL, pointing it back at this service',
      description:
        "The key in the path is the write key (a page's older API token works too). apiHost is " +
        'PUBLIC_API_URL, never a request header, so the answer may be cached by its URL alone.',
      request: { params: z.object({ writeKey: z.string() }) },
      responses: {
        200: {
          ...jsonResponse(
            'Settings with only the Segment.io destination, its apiHost this service',
            z.record(z.string(), z.unknown()),
          ),
          headers: {
            'Cache-Control': {
              description: `public, max-age=${SETTINGS_MAX_AGE_SEC}`,
              schema: { type: 'string' },
            },
          },
        },
        ...errorResponses(404, 500),
      },
    });
  };
