import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261128000001_initial } from './Migration20261128000001_initial';
import { Migration20261128000002_batches_and_event_time } from './Migration20261128000002_batches_and_event_time';
import { Migration20261128000003_idempotency_and_outbox } from './Migration20261128000003_idempotency_and_outbox';
import { Migration20261128000004_attempts_and_listing } from './Migration20261128000004_attempts_and_listing';
import { Migration20261202000001_queued_status } from './Migration20261202000001_queued_status';
import { Migration20261202000005_event_subject_ids } from './Migration20261202000005_event_subject_ids';
import { Migration20261202032800_request_fingerprints_and_batch_keys } from './Migration20261202032800_request_fingerprints_and_batch_keys';
import { Migration20261202170000_drop_events_user_created_index } from './Migration20261202170000_drop_events_user_created_index';
import { Migration20261206090000_tracking_groups } from './Migration20261206090000_tracking_groups';
import { Migration20261206100000_write_keys } from './Migration20261206100000_write_keys';
import { Migration20261206110000_listing_indexes } from './Migration20261206110000_listing_indexes';
import { Migration20261206120000_tracking_plans } from './Migration20261206120000_tracking_plans';
import { Migration20261206130000_workflow_runs } from './Migration20261206130000_workflow_runs';

/**
 * Every migration, in order. Listed explicitly rather than globbed so that the same list works
 * from TypeScript sources, compiled output and bundles alike.
 */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261128000001_initial', class: Migration20261128000001_initial },
  {
    name: 'Migration20261128000002_batches_and_event_time',
    class: Migration20261128000002_batches_and_event_time,
  },
  {
    name: 'Migration20261128000003_idempotency_and_outbox',
    class: Migration20261128000003_idempotency_and_outbox,
  },
  {
    name: 'Migration20261128000004_attempts_and_listing',
    class: Migration20261128000004_attempts_and_listing,
  },
  { name: 'Migration20261202000001_queued_status', class: Migration20261202000001_queued_status },
  {
    name: 'Migration20261202000005_event_subject_ids',
    class: Migration20261202000005_event_subject_ids,
  },
  {
    name: 'Migration20261202032800_request_fingerprints_and_batch_keys',
    class: Migration20261202032800_request_fingerprints_and_batch_keys,
  },
  {
    name: 'Migration20261202170000_drop_events_user_created_index',
    class: Migration20261202170000_drop_events_user_created_index,
  },
  {
    name: 'Migration20261206090000_tracking_groups',
    class: Migration20261206090000_tracking_groups,
  },
  { name: 'Migration20261206100000_write_keys', class: Migration20261206100000_write_keys },
  {
    name: 'Migration20261206110000_listing_indexes',
    class: Migration20261206110000_listing_indexes,
  },
  { name: 'Migration20261206120000_tracking_plans', class: Migration20261206120000_tracking_plans },
  { name: 'Migration20261206130000_workflow_runs', class: Migration20261206130000_workflow_runs },
];
