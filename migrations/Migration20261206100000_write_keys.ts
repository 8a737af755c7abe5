import { Migration } from '@mikro-orm/migrations';

export class Migration20261206100000_write_keys extends Migration {
  override async up(): Promise<void> {
    // Only the hash of a key is stored, so none can be made up for existing users: they have
    // no write key (null) until they rotate one, and their API token keeps working on the
    // tracking routes meanwhile.
    this.addSql(`alter table "users" add column "write_key_hash" varchar(64) null;`);
    this.addSql(
      `alter table "users" add constraint "users_write_key_hash_unique" unique ("write_key_hash");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "users" drop column if exists "write_key_hash";`);
  }
}
