import type { Event } from './event.entity';

/** The JSON shape of an event in API responses. */
export interface EventView {
  id: string;
  event_name: string;
  event_type: string;
  payload: unknown;
  properties: Record<string, unknown> | null;
  status: string;
  processed: boolean;
  processed_at: string | null;
  processing_error: string | null;
  workflow_id: string;
  created_at: string;
  updated_at: string;
}

export function toEventView(e: Event): EventView {
  return {
    id: e.id,
    event_name: e.eventName,
    event_type: e.eventType,
    payload: e.payload ?? null,
    properties: e.properties ?? null,
    status: e.status,
    processed: e.processed,
    processed_at: e.processedAt?.toISOString() ?? null,
    processing_error: e.processingError ?? null,
    workflow_id: e.workflowId,
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}
