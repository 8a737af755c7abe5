import { Migration } from '@mikro-orm/migrations';

export class Migration20261128000001_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "users" (
        "id" uuid primary key,
        "email" varchar(320) not null,
        "token_hash" varchar(64) not null,
        "created_at" timestamptz not null default now(),
        constraint "users_email_unique" unique ("email"),
        constraint "users_token_hash_unique" unique ("token_hash")
      );`);
    this.addSql(`
      create table "events" (
        "id" uuid primary key,
        "user_id" uuid not null references "users" ("id") on update cascade,
        "event_name" varchar(255) not null,
        "event_type" varchar(255) not null,
        "payload" jsonb null,
        "properties" jsonb null,
        "status" text not null default 'received'
          check ("status" in ('received', 'processing', 'processed', 'failed')),
        "processed" boolean not null default false,
        "processed_at" timestamptz null,
        "processing_error" text null,
        "workflow_id" varchar(255) not null,
        "created_at" timestamptz not null default now(),
        "updated_at" timestamptz not null default now()
      );`);
    // GET by owner, newest first.
    this.addSql(
      `create index "events_user_id_created_at_index" on "events" ("user_id", "created_at" desc);`,
    );
    // Finding events that still await processing stays cheap however many are processed.
    this.addSql(
      `create index "events_unfinished_index" on "events" ("created_at") where "status" in ('received', 'processing');`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "events";`);
    this.addSql(`drop table if exists "users";`);
  }
}
