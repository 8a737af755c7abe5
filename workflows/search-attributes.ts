import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes the workflows set as they progress, so operators can find an event's
 * workflow in the Web UI and CLI. They are stored unencrypted: never put payload data or e-mail
 * addresses in them.
 */
export const EventIdKey = defineSearchAttributeKey('EventId', SearchAttributeType.KEYWORD);
export const EventNameKey = defineSearchAttributeKey('EventName', SearchAttributeType.KEYWORD);
export const EventTypeKey = defineSearchAttributeKey('EventType', SearchAttributeType.KEYWORD);
export const UserIdKey = defineSearchAttributeKey('UserId', SearchAttributeType.KEYWORD);
export const BatchIdKey = defineSearchAttributeKey('BatchId', SearchAttributeType.KEYWORD);
export const EventStatusKey = defineSearchAttributeKey('EventStatus', SearchAttributeType.KEYWORD);

/** Every custom attribute: registered on dev servers, listed in the runbook. */
export const SEARCH_ATTRIBUTE_KEYS = [
  EventIdKey,
  EventNameKey,
  EventTypeKey,
  UserIdKey,
  BatchIdKey,
  EventStatusKey,
];

/** Each attribute with its type as `temporal operator search-attribute create` takes it. */
export const SEARCH_ATTRIBUTES = SEARCH_ATTRIBUTE_KEYS.map((k) => ({
  name: k.name,
  type: 'Keyword' as const,
}));
