import { Migration } from '@mikro-orm/migrations';

export class Migration20261202032800_request_fingerprints_and_batch_keys extends Migration {
  override async up(): Promise<void> {
    // SHA-256 of the event as first accepted: a key reused with another body is refused (422)
    // rather than answered with the original. Null for rows accepted before: any body matches.
    this.addSql(`alter table "events" add column "request_fingerprint" varchar(64) null;`);
    // A batch-level Idempotency-Key: a retried batch is answered with the original batch.
    this.addSql(`alter table "batches" add column "idempotency_key" varchar(255) null;`);
    this.addSql(`alter table "batches" add column "request_fingerprint" varchar(64) null;`);
    this.addSql(
      `alter table "batches" add constraint "batches_user_id_idempotency_key_unique" unique ("user_id", "idempotency_key");`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table "batches" drop constraint "batches_user_id_idempotency_key_unique", drop column "request_fingerprint", drop column "idempotency_key";`,
    );
    this.addSql(`alter table "events" drop column "request_fingerprint";`);
  }
}
