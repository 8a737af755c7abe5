import { PLAN_LIMITS } from './plan-definition';

/** One reason a plan is refused, with the JSON path of what causes it. */
export interface PlanIssue {
  path: string;
  message: string;
  code: string;
}

/** Keywords whose value is one subschema. */
const SUBSCHEMA = [
  'items',
  'additionalItems',
  'additionalProperties',
  'unevaluatedProperties',
  'unevaluatedItems',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
];
/** Keywords whose value is a list of subschemas. */
const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
/** Keywords whose value maps names to subschemas. */
const SUBSCHEMA_MAPS = [
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
  'dependentSchemas',
];

const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);

/**
 * What ajv would accept but this service does not, because of what it costs at validation time
 * on a payload of up to 1 MB:
 * - a `pattern` (or `patternProperties` key) longer than `PLAN_LIMITS.maxPatternLength`: RE2
 *   matches in time linear in the input, times the size of the pattern;
 * - `uniqueItems: true` on items that are not declared of scalar types: ajv then compares every
 *   pair of items, and a 1 MB array holds hundreds of thousands.
 * Walks subschemas only (not `enum`, `const`, `default` or `examples` values), so data that
 * merely looks like a keyword is left alone. The schema's depth is bounded before this runs.
 */
export function schemaGuardIssues(schema: unknown, path: string): PlanIssue[] {
  const issues: PlanIssue[] = [];
  visit(schema, path, issues);
  return issues;
}

function visit(schema: unknown, path: string, issues: PlanIssue[]): void {
  if (!isObject(schema)) return;
  const tooLong = (at: string) =>
    issues.push({
      path: at,
      message: `a pattern may have at most ${PLAN_LIMITS.maxPatternLength} characters`,
      code: 'pattern_too_long',
    });
  if (typeof schema.pattern === 'string' && schema.pattern.length > PLAN_LIMITS.maxPatternLength) {
    tooLong(`${path}.pattern`);
  }
  if (isObject(schema.patternProperties)) {
    for (const key of Object.keys(schema.patternProperties)) {
      if (key.length > PLAN_LIMITS.maxPatternLength) tooLong(`${path}.patternProperties`);
    }
  }
  if (schema.uniqueItems === true && !hasScalarItems(schema)) {
    issues.push({
      path: `${path}.uniqueItems`,
      message:
        'uniqueItems needs "items" with a scalar "type" (string, number, integer, boolean, null), or "items": false; otherwise every pair of items is compared',
      code: 'unique_items_unbounded',
    });
  }
  for (const key of SUBSCHEMA) {
    const sub = schema[key];
    if (Array.isArray(sub)) sub.forEach((s, i) => visit(s, `${path}.${key}.${i}`, issues));
    else visit(sub, `${path}.${key}`, issues);
  }
  for (const key of SUBSCHEMA_LISTS) {
    const list = schema[key];
    if (Array.isArray(list)) list.forEach((s, i) => visit(s, `${path}.${key}.${i}`, issues));
  }
  for (const key of SUBSCHEMA_MAPS) {
    const map = schema[key];
    if (!isObject(map)) continue;
    for (const [name, sub] of Object.entries(map)) visit(sub, `${path}.${key}.${name}`, issues);
  }
}

function hasScalarItems(schema: Record<string, unknown>): boolean {
  const items = schema.items;
  if (items === false) return true;
  if (!isObject(items)) return false;
  const types = Array.isArray(items.type) ? items.type : [items.type];
  return types.length > 0 && types.every((t) => typeof t === 'string' && SCALAR_TYPES.has(t));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
