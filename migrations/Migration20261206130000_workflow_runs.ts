import { Migration } from '@mikro-orm/migrations';

export class Migration20261206130000_workflow_runs extends Migration {
  override async up(): Promise<void> {
    // The sweeper looks at queued and processing rows, single and batch alike, by how long
    // they went unchanged. Admission counts running workflows in Temporal now, not rows, so the
    // single-event index it read is gone.
    this.addSql(`drop index if exists "events_in_flight_index";`);
    this.addSql(
      `create index "events_running_index" on "events" ("updated_at") where "status" in ('queued', 'processing');`,
    );
    // The age of the oldest unfinished event, read every pass of the outbox: one index entry.
    this.addSql(
      `create index "events_unfinished_created_at_index" on "events" ("created_at") where "status" in ('received', 'queued', 'processing');`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "events_unfinished_created_at_index";`);
    this.addSql(`drop index "events_running_index";`);
    this.addSql(
      `create index "events_in_flight_index" on "events" ("updated_at") where "status" in ('queued', 'processing') and "batch_id" is null;`,
    );
  }
}
