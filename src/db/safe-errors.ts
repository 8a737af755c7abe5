import { ConnectionException, DriverException } from '@mikro-orm/core';

/**
 * What may be said about a database error outside the process. MikroORM inlines parameters
 * into its SQL text and knex prefixes that text to the driver's message, so the message of a
 * query error can carry whole payloads; PostgreSQL's own `detail` echoes key values, and a
 * trigger's RAISE can echo anything. None of those are kept: only the SQLSTATE, its condition
 * name, and the names of the constraint, table and column involved.
 */
export interface DatabaseErrorSummary {
  /** Short and safe to store, return to clients and log: "database error: 23505 unique_violation (events_pkey)". */
  reason: string;
  /** Whose fault it is and what helps: see {@link DatabaseErrorKind}. */
  kind: DatabaseErrorKind;
  /** The database could not be reached or went away (`kind` is `unavailable`): retry later. */
  unavailable: boolean;
  /** Structured fields for a debug log; names and codes only, never values. */
  fields: Record<string, string>;
}

/**
 * What a database error means for the request that met it, by SQLSTATE class (PostgreSQL's
 * errcodes appendix):
 * - `unavailable`: the database cannot be reached or cannot serve anyone now (class 08 but
 *   08P01, 53 insufficient resources, 58 system error, a shutdown, a missing database, a
 *   socket error, no free connection): an outage, retry later;
 * - `timeout`: the statement ran past the statement timeout, or was cancelled (57014): this
 *   request took too long, the database itself is fine;
 * - `conflict`: the transaction lost to a concurrent one (class 40, 55P03): retry now;
 * - `invalid_value`: a value the database refuses (class 22 data exception, 54 a value past a
 *   limit): the request's fault, retrying the same request cannot help;
 * - `defect`: anything else (a constraint the code did not expect, a protocol violation, SQL
 *   that does not fit the schema): the service's fault.
 */
export type DatabaseErrorKind = 'unavailable' | 'timeout' | 'conflict' | 'invalid_value' | 'defect';

/** Condition names of the SQLSTATEs worth naming (PostgreSQL's errcodes appendix). */
const CONDITIONS: Record<string, string> = {
  '08000': 'connection_exception',
  '08003': 'connection_does_not_exist',
  '08006': 'connection_failure',
  '08001': 'sqlclient_unable_to_establish_sqlconnection',
  '08004': 'sqlserver_rejected_establishment_of_sqlconnection',
  '08P01': 'protocol_violation',
  '22003': 'numeric_value_out_of_range',
  '22007': 'invalid_datetime_format',
  '22008': 'datetime_field_overflow',
  '22021': 'character_not_in_repertoire',
  '22023': 'invalid_parameter_value',
  '22P05': 'untranslatable_character',
  '23502': 'not_null_violation',
  '23503': 'foreign_key_violation',
  '23505': 'unique_violation',
  '23514': 'check_violation',
  '22001': 'string_data_right_truncation',
  '22P02': 'invalid_text_representation',
  '25P02': 'in_failed_sql_transaction',
  '3D000': 'invalid_catalog_name',
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '42P01': 'undefined_table',
  '42703': 'undefined_column',
  '53100': 'disk_full',
  '53200': 'out_of_memory',
  '53300': 'too_many_connections',
  '54000': 'program_limit_exceeded',
  '55P03': 'lock_not_available',
  '57014': 'query_canceled',
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
  '57P04': 'database_dropped',
  P0001: 'raise_exception',
};

/** SQLSTATEs outside the unavailable classes that mean "the database is not there right now". */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '57P04', '3D000']);
const UNAVAILABLE_CLASSES = new Set(['08', '53', '58']);
const SOCKET_CODES = /^E[A-Z]+$/;

/** Messages of errors raised by pg and knex themselves: fixed texts, no SQL, no values. */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/,
  /^Knex: Timeout acquiring a connection/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error/,
];

/**
 * Summarizes an error if it comes from the database driver (MikroORM, knex or pg); null for
 * anything else, which callers leave as it is.
 */
export function summarizeDatabaseError(err: unknown): DatabaseErrorSummary | null {
  if (!(err instanceof Error)) return null;
  const e = err as Error & Record<string, unknown>;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const sqlState = code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  const socketCode = code && SOCKET_CODES.test(code) ? code : undefined;
  const fromDriver =
    err instanceof DriverException ||
    'sql' in e ||
    (sqlState !== undefined && typeof e.severity === 'string') ||
    err.name === 'KnexTimeoutError' ||
    UNAVAILABLE_MESSAGES.some((m) => m.test(err.message));
  if (!fromDriver && !(socketCode && 'syscall' in e)) return null;

  const kind = kindOf(err, sqlState, socketCode);
  const unavailable = kind === 'unavailable';

  const fields: Record<string, string> = { error_class: err.name };
  if (sqlState) fields.sqlstate = sqlState;
  if (socketCode) fields.socket_code = socketCode;
  for (const k of ['constraint', 'table', 'column', 'schema', 'routine'] as const) {
    if (typeof e[k] === 'string' && e[k] !== '') fields[k] = e[k];
  }

  const parts = ['database error:'];
  if (sqlState) parts.push(sqlState, CONDITIONS[sqlState] ?? 'error');
  else if (socketCode) parts.push(socketCode);
  else parts.push(unavailable ? 'connection unavailable' : err.name);
  if (fields.constraint) parts.push(`(${fields.constraint})`);
  return { reason: parts.join(' '), kind, unavailable, fields };
}

function kindOf(err: Error, sqlState?: string, socketCode?: string): DatabaseErrorKind {
  if (sqlState !== undefined) {
    const sqlClass = sqlState.slice(0, 2);
    // A protocol violation is what the driver sent (a NUL in the statement text, say), on a
    // connection that is fine: not an outage.
    if (sqlState === '08P01') return 'defect';
    if (UNAVAILABLE_CLASSES.has(sqlClass) || UNAVAILABLE_STATES.has(sqlState)) return 'unavailable';
    if (sqlState === '57014') return 'timeout';
    if (sqlClass === '40' || sqlState === '55P03') return 'conflict';
    if (sqlClass === '22' || sqlClass === '54') return 'invalid_value';
    return 'defect';
  }
  const unavailable =
    err instanceof ConnectionException ||
    socketCode !== undefined ||
    err.name === 'KnexTimeoutError' ||
    UNAVAILABLE_MESSAGES.some((m) => m.test(err.message));
  return unavailable ? 'unavailable' : 'defect';
}
