import { Migration } from '@mikro-orm/migrations';

export class Migration20261206120000_tracking_plans extends Migration {
  override async up(): Promise<void> {
    // Every version of every user's tracking plan, never changed once written: an event is
    // checked against the version in force when it was accepted, however long it waits, so a
    // retry or a replay decides as the first attempt did. The schemas are kept as the text
    // they were sent as (json, not jsonb): read back whole, in their own key order.
    this.addSql(`
      create table "tracking_plan_versions" (
        "user_id" uuid not null references "users" ("id") on update cascade,
        "version" integer not null,
        "mode" text not null check ("mode" in ('off', 'report', 'enforce')),
        "unplanned" text not null check ("unplanned" in ('allow', 'reject')),
        "events" json not null,
        "created_at" timestamptz not null default now(),
        primary key ("user_id", "version")
      );`);
    // The version in force, per user: the row an event insert reads its plan version from.
    // Deferred, since one statement bumps the version and writes that version's row.
    this.addSql(`
      create table "tracking_plans" (
        "user_id" uuid primary key references "users" ("id") on update cascade,
        "version" integer not null,
        "updated_at" timestamptz not null default now(),
        constraint "tracking_plans_version_foreign" foreign key ("user_id", "version")
          references "tracking_plan_versions" ("user_id", "version") deferrable initially deferred
      );`);
    // The plan version an event is checked against (null: the user had no plan), what it
    // broke of it, and who sent it: a tracking message's schema applies to its properties or
    // traits, a REST event's to its payload.
    this.addSql(`alter table "events" add column "plan_version" integer null;`);
    this.addSql(`alter table "events" add column "violations" jsonb null;`);
    this.addSql(`alter table "events" add column "source" text not null default 'api';`);
    // GET /api/v1/events?has_violations=true, newest first; rows without violations cost nothing.
    this.addSql(
      `create index "events_violations_user_id_id_index" on "events" ("user_id", "id" desc) where "violations" is not null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "events_violations_user_id_id_index";`);
    this.addSql(
      `alter table "events" drop column "source", drop column "violations", drop column "plan_version";`,
    );
    this.addSql(`drop table "tracking_plans";`);
    this.addSql(`drop table "tracking_plan_versions";`);
  }
}
