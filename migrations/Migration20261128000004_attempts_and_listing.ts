import { Migration } from '@mikro-orm/migrations';

export class Migration20261128000004_attempts_and_listing extends Migration {
  override async up(): Promise<void> {
    // Every workflow run that picks an event up counts once, however often its steps retry.
    this.addSql(`alter table "events" add column "attempts" integer not null default 0;`);
    this.addSql(`alter table "events" add column "last_run_id" varchar(64) null;`);
    // The latest failure's error; unlike processing_error it survives a later success.
    this.addSql(`alter table "events" add column "last_error" text null;`);
    this.addSql(
      `update "events" set "last_error" = "processing_error", "attempts" = case when "status" in ('processed', 'failed') then 1 else 0 end;`,
    );
    // Listing a user's events newest first (ids are time-ordered), and their failed ones.
    this.addSql(`create index "events_user_id_id_index" on "events" ("user_id", "id" desc);`);
    this.addSql(
      `create index "events_failed_user_id_id_index" on "events" ("user_id", "id" desc) where "status" = 'failed';`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "events_failed_user_id_id_index";`);
    this.addSql(`drop index "events_user_id_id_index";`);
    this.addSql(
      `alter table "events" drop column "last_error", drop column "last_run_id", drop column "attempts";`,
    );
  }
}
