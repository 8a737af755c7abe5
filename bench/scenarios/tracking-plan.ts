import { eventInput } from './events';

/**
 * The tracking plan of measurement p: 20 event schemas in `enforce` mode, three of them for the
 * events the batch rounds send (`eventInput`), each checking every field the way a real plan
 * would (types, a pattern, formats, bounds, no unknown fields), so each event of the round is
 * validated in full and passes.
 */
export function benchTrackingPlan() {
  const names = [...new Set(Array.from({ length: 3 }, (_, i) => eventInput(i).event_name))];
  const commerce = {
    type: 'object',
    properties: {
      page: { type: 'string', pattern: '^/products/[0-9]+$', maxLength: 200 },
      duration: { type: 'integer', minimum: 0, maximum: 86_400 },
      referrer: { type: 'string', format: 'uri' },
      occurred_at: { type: 'string', format: 'date-time' },
      session: {
        type: 'object',
        properties: {
          id: { type: 'string', minLength: 1, maxLength: 64 },
          new_visitor: { type: 'boolean' },
        },
        required: ['id'],
        additionalProperties: false,
      },
      tags: { type: 'array', items: { type: 'string', maxLength: 40 }, maxItems: 20 },
    },
    required: ['page', 'duration', 'occurred_at', 'session'],
    additionalProperties: false,
  };
  const others = Array.from({ length: 20 - names.length }, (_, i) => [
    `other_event_${i}`,
    {
      type: 'object',
      properties: { id: { type: 'string', format: 'uuid' }, amount: { type: 'number' } },
      required: ['id'],
    },
  ]);
  return {
    mode: 'enforce',
    unplanned: 'reject',
    events: {
      ...Object.fromEntries(names.map((n) => [n, commerce])),
      ...Object.fromEntries(others),
    },
  };
}
