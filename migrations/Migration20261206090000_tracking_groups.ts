import { Migration } from '@mikro-orm/migrations';

export class Migration20261206090000_tracking_groups extends Migration {
  override async up(): Promise<void> {
    // A tracking message waits for the relay to put it in a group (a batch) of its sender's
    // messages; until then it has no workflow.
    this.addSql(`alter table "events" alter column "workflow_id" drop not null;`);
    // What the relay reads: a user's messages waiting for a group, oldest first.
    this.addSql(
      `create index "events_ungrouped_index" on "events" ("user_id", "id") where "workflow_id" is null and "status" = 'received';`,
    );
    // An analytics SDK's messageId names one message per user, in a key space of its own: a
    // REST idempotency key that happens to equal a messageId must not swallow the message.
    this.addSql(`alter table "events" add column "message_id" varchar(255) null;`);
    this.addSql(
      `create unique index "events_user_id_message_id_unique" on "events" ("user_id", "message_id") where "message_id" is not null;`,
    );
    // Tracking messages stored before kept their messageId as the idempotency key, with no
    // fingerprint (REST keys have had one since 20261202032800) and a message type as event type.
    this.addSql(
      `update "events" set "message_id" = "idempotency_key", "idempotency_key" = null
        where "idempotency_key" is not null and "request_fingerprint" is null
          and "event_type" in ('track', 'identify', 'page', 'screen', 'group', 'alias');`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(
      `update "events" set "idempotency_key" = "message_id" where "message_id" is not null and "idempotency_key" is null;`,
    );
    this.addSql(`drop index "events_user_id_message_id_unique";`);
    this.addSql(`alter table "events" drop column "message_id";`);
    this.addSql(`drop index "events_ungrouped_index";`);
    this.addSql(
      `update "events" set "workflow_id" = 'event-' || "id" where "workflow_id" is null;`,
    );
    this.addSql(`alter table "events" alter column "workflow_id" set not null;`);
  }
}
