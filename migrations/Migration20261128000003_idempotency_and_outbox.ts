import { Migration } from '@mikro-orm/migrations';

export class Migration20261128000003_idempotency_and_outbox extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "events" add column "idempotency_key" varchar(255) null;`);
    // Per user, a key names at most one event, forever. NULLs are distinct, so events
    // without a key never collide; a plain constraint is also what ON CONFLICT can name.
    this.addSql(
      `alter table "events" add constraint "events_user_id_idempotency_key_unique" unique ("user_id", "idempotency_key");`,
    );
    // `waiting`: committed while Temporal was unreachable; the outbox relay starts its workflow.
    this.addSql(`alter table "events" drop constraint "events_status_check";`);
    this.addSql(
      `alter table "events" add constraint "events_status_check" check ("status" in ('waiting', 'received', 'processing', 'processed', 'failed'));`,
    );
    this.addSql(`drop index "events_unfinished_index";`);
    // What the outbox relay scans: only events whose workflow may not have started.
    this.addSql(
      `create index "events_outbox_index" on "events" ("updated_at") where "status" in ('waiting', 'received');`,
    );
    this.addSql(`alter table "batches" drop constraint "batches_event_count_check";`);
    this.addSql(
      `alter table "batches" add constraint "batches_event_count_check" check ("event_count" >= 0);`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "events_outbox_index";`);
    this.addSql(
      `create index "events_unfinished_index" on "events" ("created_at") where "status" in ('received', 'processing');`,
    );
    this.addSql(`update "events" set "status" = 'received' where "status" = 'waiting';`);
    this.addSql(`alter table "events" drop constraint "events_status_check";`);
    this.addSql(
      `alter table "events" add constraint "events_status_check" check ("status" in ('received', 'processing', 'processed', 'failed'));`,
    );
    this.addSql(
      `alter table "events" drop constraint "events_user_id_idempotency_key_unique", drop column "idempotency_key";`,
    );
  }
}
