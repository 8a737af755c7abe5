import { Migration } from '@mikro-orm/migrations';

export class Migration20261206110000_listing_indexes extends Migration {
  override async up(): Promise<void> {
    // GET /api/v1/events lists one account's events newest first, filtered by any of status,
    // event_name, event_type, subject_user_id and anonymous_id (the last two have their
    // indexes). Without an index per filter, a value few or none of a large account's events
    // have (a typo, a status nothing is in) scans the whole account. One index per column, not
    // per combination: the planner takes the most selective, and every index costs every write
    // of every row, so no more than the filters need.
    //
    // Unfinished and failed events only: processed ones, nearly all of them, are found through
    // (user_id, id) at once. Replaces the index of failed ones it covers.
    this.addSql(
      `create index if not exists "events_user_id_status_id_index" on "events" ("user_id", "status", "id" desc) where "status" <> 'processed';`,
    );
    this.addSql(
      `create index if not exists "events_user_id_event_name_id_index" on "events" ("user_id", "event_name", "id" desc);`,
    );
    this.addSql(
      `create index if not exists "events_user_id_event_type_id_index" on "events" ("user_id", "event_type", "id" desc);`,
    );
    this.addSql(`drop index if exists "events_failed_user_id_id_index";`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `create index if not exists "events_failed_user_id_id_index" on "events" ("user_id", "id" desc) where "status" = 'failed';`,
    );
    this.addSql(`drop index if exists "events_user_id_event_type_id_index";`);
    this.addSql(`drop index if exists "events_user_id_event_name_id_index";`);
    this.addSql(`drop index if exists "events_user_id_status_id_index";`);
  }
}
