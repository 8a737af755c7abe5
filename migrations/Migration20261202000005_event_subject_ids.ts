import { Migration } from '@mikro-orm/migrations';

export class Migration20261202000005_event_subject_ids extends Migration {
  override async up(): Promise<void> {
    // Who an event is about, as analytics SDKs name them (`userId`, `anonymousId`). Not the
    // owning account, which stays `user_id`: the person tracked is one of that account's users.
    this.addSql(`alter table "events" add column "subject_user_id" varchar(255) null;`);
    this.addSql(`alter table "events" add column "anonymous_id" varchar(255) null;`);
    // GET /api/v1/events filters by them within one account, newest first.
    this.addSql(
      `create index "events_user_id_subject_user_id_id_index" on "events" ("user_id", "subject_user_id", "id" desc) where "subject_user_id" is not null;`,
    );
    this.addSql(
      `create index "events_user_id_anonymous_id_id_index" on "events" ("user_id", "anonymous_id", "id" desc) where "anonymous_id" is not null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "events_user_id_anonymous_id_id_index";`);
    this.addSql(`drop index "events_user_id_subject_user_id_id_index";`);
    this.addSql(`alter table "events" drop column "anonymous_id", drop column "subject_user_id";`);
  }
}
