import { Migration } from '@mikro-orm/migrations';

export class Migration20261202000001_queued_status extends Migration {
  override async up(): Promise<void> {
    // Workflows now start after the answer, so "stored, not yet handed to Temporal" is the
    // normal first state (`received`) and no separate `waiting` is needed; `queued` marks a
    // workflow Temporal holds that no worker has picked up yet.
    this.addSql(`update "events" set "status" = 'received' where "status" = 'waiting';`);
    this.addSql(`alter table "events" drop constraint "events_status_check";`);
    this.addSql(
      `alter table "events" add constraint "events_status_check" check ("status" in ('received', 'queued', 'processing', 'processed', 'failed'));`,
    );
    this.addSql(`drop index "events_outbox_index";`);
    // The outbox takes unstarted rows oldest first; the backlog figures read the same index.
    this.addSql(
      `create index "events_unstarted_index" on "events" ("created_at") where "status" = 'received';`,
    );
    // Admission counts the single-event workflows Temporal holds, recently handed over.
    this.addSql(
      `create index "events_in_flight_index" on "events" ("updated_at") where "status" in ('queued', 'processing') and "batch_id" is null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "events_in_flight_index";`);
    this.addSql(`drop index "events_unstarted_index";`);
    this.addSql(`update "events" set "status" = 'received' where "status" = 'queued';`);
    this.addSql(`alter table "events" drop constraint "events_status_check";`);
    this.addSql(
      `alter table "events" add constraint "events_status_check" check ("status" in ('waiting', 'received', 'processing', 'processed', 'failed'));`,
    );
    this.addSql(
      `create index "events_outbox_index" on "events" ("updated_at") where "status" in ('waiting', 'received');`,
    );
  }
}
