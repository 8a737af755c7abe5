import {
  ConnectionException,
  UniqueConstraintViolationException,
  type DriverException,
} from '@mikro-orm/core';
import { summarizeDatabaseError } from '../../src/db/safe-errors';

/** A pg DatabaseError as knex leaves it: the statement with its values prefixed to the message. */
function pgError(code: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(
    new Error(`insert into "events" ("payload") values ('{"card":"4111"}') - boom '4111'`),
    { code, severity: 'ERROR', detail: 'Key (payload)=(4111) already exists.', ...extra },
  );
}

describe('summarizeDatabaseError', () => {
  it('keeps the SQLSTATE, its condition and the constraint; drops message and detail', () => {
    const err = new UniqueConstraintViolationException(
      pgError('23505', { constraint: 'events_pkey', table: 'events' }),
    ) as DriverException;
    const summary = summarizeDatabaseError(err)!;
    expect(summary.reason).toBe('database error: 23505 unique_violation (events_pkey)');
    expect(summary.unavailable).toBe(false);
    expect(JSON.stringify(summary)).not.toMatch(/4111|insert into/);
    expect(summary.fields).toMatchObject({ sqlstate: '23505', table: 'events' });
  });

  it('calls lost connections and refused sockets unavailable', () => {
    expect(summarizeDatabaseError(pgError('57P01'))).toMatchObject({
      reason: 'database error: 57P01 admin_shutdown',
      unavailable: true,
    });
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
    });
    expect(summarizeDatabaseError(refused)).toMatchObject({
      reason: 'database error: ECONNREFUSED',
      unavailable: true,
    });
    const lost = new ConnectionException(new Error('Connection terminated unexpectedly'));
    expect(summarizeDatabaseError(lost)?.unavailable).toBe(true);
  });

  it.each([
    ['08006', 'unavailable'],
    ['53300', 'unavailable'],
    ['53100', 'unavailable'],
    ['58030', 'unavailable'],
    ['57P03', 'unavailable'],
    ['3D000', 'unavailable'],
    // What a NUL in the statement text gives: the connection is fine, the statement was not.
    ['08P01', 'defect'],
    ['57014', 'timeout'],
    ['40001', 'conflict'],
    ['40P01', 'conflict'],
    ['55P03', 'conflict'],
    ['22008', 'invalid_value'],
    ['22021', 'invalid_value'],
    ['22P02', 'invalid_value'],
    ['54000', 'invalid_value'],
    ['23505', 'defect'],
    ['42703', 'defect'],
    ['XX000', 'defect'],
  ])('classifies SQLSTATE %s by its class as %s', (code, kind) => {
    const summary = summarizeDatabaseError(pgError(code))!;
    expect(summary.kind).toBe(kind);
    expect(summary.unavailable).toBe(kind === 'unavailable');
    expect(summary.reason).toMatch(new RegExp(`^database error: ${code} `));
  });

  it('leaves other errors alone', () => {
    expect(summarizeDatabaseError(new TypeError('x is undefined'))).toBeNull();
    expect(summarizeDatabaseError('a string')).toBeNull();
  });
});
