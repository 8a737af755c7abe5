import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlFor } from '../db/sql';
import { RequestValidationError } from '../errors';
import { stringifyExactly, withJsonFields } from '../json/exact-json';
import type { User } from '../users/user.entity';
import { compilePlan, PlanCompileError } from './compile-plan';
import type { PlanDefinition } from './plan-definition';
import type { TrackingPlanInput, TrackingPlanView } from './tracking-plan.schemas';

/** A stored plan version, its schemas as the JSON text they are kept as. */
export interface StoredPlan {
  plan: Omit<TrackingPlanView, 'events'>;
  eventsJson: string;
}

interface PlanRow {
  version: number;
  mode: TrackingPlanView['mode'];
  unplanned: TrackingPlanView['unplanned'];
  events: string;
  created_at: Date | string;
}

/**
 * Tracking plans: one per user, in versions. A PUT compiles the plan (a schema that does not
 * compile is refused with the reason) and stores it as the next version, which every event
 * accepted from then on records and is checked against; earlier versions stay, unchanged, for
 * the events accepted under them. HTTP-agnostic.
 */
export function createTrackingPlanService() {
  return {
    /** Stores `input` as the user's plan in force, or throws `RequestValidationError` (422). */
    async put(em: EntityManager, user: User, input: TrackingPlanInput): Promise<StoredPlan> {
      // As exact text: a schema's integers past 2^53 are stored with every digit.
      const eventsJson = stringifyExactly(input.events);
      const definition: PlanDefinition = {
        mode: input.mode,
        unplanned: input.unplanned,
        events: JSON.parse(eventsJson) as PlanDefinition['events'],
      };
      try {
        compilePlan(definition);
      } catch (err) {
        if (!(err instanceof PlanCompileError)) throw err;
        throw new RequestValidationError(err.message, err.issues);
      }
      // One statement: the version in force grows by one (the row lock orders concurrent PUTs
      // of one user) and that version's row is written beside it.
      const [row] = await sqlFor(em)<PlanRow>(
        `with bumped as (
           insert into tracking_plans as p (user_id, version, updated_at) values ($1, 1, now())
           on conflict (user_id) do update set version = p.version + 1, updated_at = now()
           returning version)
         insert into tracking_plan_versions (user_id, version, mode, unplanned, events)
         select $1, version, $2, $3, $4::json from bumped
         returning version, mode, unplanned, events::text as events, created_at`,
        [user.id, input.mode, input.unplanned, eventsJson],
      );
      return stored(row!);
    },

    /** The user's plan in force, or null when they never had one. */
    async current(em: EntityManager, user: User): Promise<StoredPlan | null> {
      const [row] = await sqlFor(em)<PlanRow>(
        `select v.version, v.mode, v.unplanned, v.events::text as events, v.created_at
           from tracking_plans p
           join tracking_plan_versions v on v.user_id = p.user_id and v.version = p.version
          where p.user_id = $1`,
        [user.id],
      );
      return row ? stored(row) : null;
    },
  };
}

export type TrackingPlanService = ReturnType<typeof createTrackingPlanService>;

function stored(row: PlanRow): StoredPlan {
  return {
    plan: {
      version: row.version,
      mode: row.mode,
      unplanned: row.unplanned,
      created_at: new Date(row.created_at).toISOString(),
    },
    eventsJson: row.events,
  };
}

/** A stored plan as the routes answer it: JSON text, the schemas spliced in as kept. */
export function toTrackingPlanJson({ plan, eventsJson }: StoredPlan): string {
  return withJsonFields(plan, { events: eventsJson });
}
