import type { z } from 'zod';
import { RequestValidationError } from '../errors';

/** One schema violation as reported to clients. */
export interface ValidationIssue {
  path: string;
  message: string;
  code: string;
}

/** Parses `value` with `schema`, or throws a 422 listing every issue with its JSON path. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what = 'Request body',
): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues: ValidationIssue[] = result.error.issues.map((i) => ({
    path: ['$', ...i.path.map(String)].join('.'),
    message: i.message,
    code: i.code,
  }));
  const first = issues[0]!;
  throw new RequestValidationError(`${what} is invalid: ${first.path}: ${first.message}`, issues);
}
