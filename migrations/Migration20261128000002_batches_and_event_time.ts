import { Migration } from '@mikro-orm/migrations';

export class Migration20261128000002_batches_and_event_time extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "batches" (
        "id" uuid primary key,
        "user_id" uuid not null references "users" ("id") on update cascade,
        "workflow_id" varchar(255) not null,
        "event_count" integer not null check ("event_count" > 0),
        "sent_at" timestamptz null,
        "received_at" timestamptz not null,
        "created_at" timestamptz not null default now()
      );`);
    this.addSql(`create index "batches_user_id_index" on "batches" ("user_id");`);

    this.addSql(
      `alter table "events" add column "batch_id" uuid null references "batches" ("id");`,
    );
    // When the event happened by the client's clock, when the client sent it, when we got it,
    // and the event time corrected for client clock skew.
    this.addSql(`alter table "events" add column "client_timestamp" timestamptz null;`);
    this.addSql(`alter table "events" add column "sent_at" timestamptz null;`);
    this.addSql(`alter table "events" add column "received_at" timestamptz null;`);
    this.addSql(`alter table "events" add column "event_time" timestamptz null;`);
    this.addSql(
      `update "events" set "received_at" = "created_at", "event_time" = "created_at" where "received_at" is null;`,
    );
    this.addSql(`alter table "events" alter column "received_at" set not null;`);
    this.addSql(`alter table "events" alter column "event_time" set not null;`);
    // The batch workflow walks its events in id order, chunk by chunk.
    this.addSql(
      `create index "events_batch_id_id_index" on "events" ("batch_id", "id") where "batch_id" is not null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "events_batch_id_id_index";`);
    this.addSql(
      `alter table "events" drop column "event_time", drop column "received_at", drop column "sent_at", drop column "client_timestamp", drop column "batch_id";`,
    );
    this.addSql(`drop table if exists "batches";`);
  }
}
