/**
 * Who sent an event: the REST API (`/api/v1/events`), or an analytics SDK through the tracking
 * API (`/v1/*`). A tracking plan's schema applies to a REST event's payload and to a tracking
 * message's properties or traits, which sit inside its payload.
 */
export const EVENT_SOURCES = ['api', 'tracking'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];
