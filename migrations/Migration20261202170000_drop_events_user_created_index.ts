import { Migration } from '@mikro-orm/migrations';

export class Migration20261202170000_drop_events_user_created_index extends Migration {
  override async up(): Promise<void> {
    // Listing pages by (user_id, id) since ids became time-ordered; this index only cost
    // every insert a write.
    this.addSql(`drop index if exists "events_user_id_created_at_index";`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `create index "events_user_id_created_at_index" on "events" ("user_id", "created_at" desc);`,
    );
  }
}
