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

/** Every custom attribute with its type, as `temporal operator search-attribute create` takes them. */
export const SEARCH_ATTRIBUTES = [
  EventIdKey,
  EventNameKey,
  EventTypeKey,
  UserIdKey,
  BatchIdKey,
  EventStatusKey,
].map((k) => ({ name: k.name, type: 'Keyword' as const }));
