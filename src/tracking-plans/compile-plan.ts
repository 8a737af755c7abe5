import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { PlanDefinition, PlanMode, UnplannedPolicy } from './plan-definition';
import { re2Engine } from './re2-engine';
import { schemaGuardIssues, type PlanIssue } from './schema-guards';

const AJV_OPTIONS = {
  allErrors: true,
  strictSchema: true,
  strictNumbers: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  allowMatchingProperties: true,
  $data: false,
  logger: false,
  code: { regExp: re2Engine },
} as const;

function withFormats(ajv: Ajv2020): Ajv2020 {
  addFormats(ajv);
  return ajv;
}

let metaSchemaChecker: Ajv2020 | undefined;

/** Throws, as ajv's own check would, when `schema` is not a draft 2020-12 schema. */
function checkAgainstMetaSchema(schema: unknown): void {
  metaSchemaChecker ??= withFormats(new Ajv2020(AJV_OPTIONS));
  if (!metaSchemaChecker.validateSchema(schema as Record<string, unknown>)) {
    throw new Error(`schema is invalid: ${metaSchemaChecker.errorsText(metaSchemaChecker.errors)}`);
  }
}

/** Why a schema is refused, and how a violation reads, when a `$ref` reaches itself without descending into the data. */
export const RECURSION_MESSAGE =
  'the schema recurses without end: a $ref reaches itself without descending into the data';

/** One value of each JSON type, to run a new validator on. */
const PROBES: unknown[] = [null, true, 0, '', [], {}];

/**
 * Whether the validator overflows the stack on a plain value: `{"$ref": "#"}` compiles, and
 * recurses forever on anything. A loop only some values reach (behind an `if`, say) passes
 * this; the check of an event catches it there (see `plan-rules.ts`).
 */
function recursesWithoutEnd(validate: ValidateFunction): boolean {
  try {
    for (const probe of PROBES) validate(probe);
    return false;
  } catch (err) {
    if (err instanceof RangeError) return true;
    throw err;
  }
}

/** A plan ready to check events with: one compiled validator per event name. */
export interface CompiledPlan {
  mode: PlanMode;
  unplanned: UnplannedPolicy;
  /** The validator of `eventName`'s schema; undefined when the plan has none for it. */
  validatorFor(eventName: string): PlanValidator | undefined;
}

/** Validates a value; `errors` holds every violation of the last call that failed. */
export type PlanValidator = ValidateFunction & { errors?: ErrorObject[] | null };

/** Thrown by `compilePlan` when a schema does not compile; each issue names its event's path. */
export class PlanCompileError extends Error {
  override readonly name = 'PlanCompileError';
  constructor(readonly issues: PlanIssue[]) {
    super(`The tracking plan is invalid: ${issues[0]!.path}: ${issues[0]!.message}`);
  }
}

/**
 * Compiles every schema of a plan with ajv (JSON Schema draft 2020-12), or throws
 * `PlanCompileError` listing each schema that does not compile and why. Each plan gets an ajv
 * instance of its own, so one plan's `$id`s cannot meet another's. The options, and why:
 * - `allErrors`: `processing_error` and `violations` name every violation, not the first; what
 *   it costs is bounded by the payload (at most 1 MB) and by the guards in `schema-guards.ts`;
 * - strict schemas: an unknown keyword or format (`requird`, `format: "emial"`) is a compile
 *   error, so a typo in a plan fails loudly at PUT instead of silently checking nothing; strict
 *   types, tuples and required stay off, since they refuse valid, merely loose, schemas;
 * - no `$data`, and `compile` rather than `compileAsync` with no `loadSchema`: a `$ref` to
 *   anything outside the schema (or the draft's meta-schemas) does not resolve, and nothing is
 *   ever fetched over the network;
 * - `pattern` and `patternProperties` run on RE2 (`re2-engine.ts`), linear in the input;
 *   `allowMatchingProperties` keeps ajv from testing the patterns with JavaScript's own
 *   engine against `properties` names at compile time;
 * - formats from ajv-formats (`date-time`, `email`, `uri`, `uuid`, ...);
 * - `logger: false`: nothing of a plan is written to the service's output.
 */
export function compilePlan(definition: PlanDefinition): CompiledPlan {
  // The meta-schema check is the shared instance's, compiled once per process; each plan's
  // own instance only compiles its schemas (a fresh instance checking schemas would compile
  // the draft's meta-schemas again, most of a plan's compile time).
  const ajv = withFormats(new Ajv2020({ ...AJV_OPTIONS, validateSchema: false }));
  const validators = new Map<string, PlanValidator>();
  const issues: PlanIssue[] = [];
  for (const [name, schema] of Object.entries(definition.events)) {
    const path = `$.events.${name}`;
    const guarded = schemaGuardIssues(schema, path);
    if (guarded.length > 0) {
      issues.push(...guarded);
      continue;
    }
    try {
      checkAgainstMetaSchema(schema);
      const validate = ajv.compile(schema);
      if (recursesWithoutEnd(validate)) {
        issues.push({ path, message: RECURSION_MESSAGE, code: 'recursive_schema' });
        continue;
      }
      validators.set(name, validate);
    } catch (err) {
      issues.push({ path, message: (err as Error).message, code: 'invalid_schema' });
    }
  }
  if (issues.length > 0) throw new PlanCompileError(issues);
  return {
    mode: definition.mode,
    unplanned: definition.unplanned,
    validatorFor: (eventName) => validators.get(eventName),
  };
}
