import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  getArgumentValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  type GraphQLObjectType,
  type GraphQLSchema,
  isObjectType,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RequestLimits } from '../config.js';
import { SERVED_WALL_FROM, SERVED_WALL_TO } from '../domain/served-range.js';
import { daysOfPeriod } from '../history/fetch-planner.js';
import { localDayOf } from '../time/zone.js';
import type { GraphQLContext } from './context.js';
import { type DateTimeInput, instantOf } from './date-time-value.js';

/** The work a request asks for: days of history over all its serviceCalls fields, and calls in their pages. */
export interface RequestWork {
  days: number;
  calls: number;
  /**
   * Values (leaf fields) its response holds, counted before it runs: what bounds the response's
   * bytes, however the fields are repeated by aliases. Planned only (0 for questions as they arrive).
   */
  values?: number;
}

/** Fields whose list size an argument gives: each item's selections are asked that many times. */
const LIST_SIZE_ARGUMENTS: Readonly<Record<string, string>> = { _entities: 'representations', clients: 'ids', supportLines: 'ids', accounts: 'ids' };
/** The connection fields that return calls; the rest (totalCount, stats, freshness) return none. */
const PAGE_FIELDS = new Set(['nodes', 'edges']);
const DEFAULT_PAGE = 100;
const DAY_MS = 86_400_000;
/** Longer than MAX_QUERY_DAYS may ever be: such a period is refused by the resolver. */
const MAX_PERIOD_MS = 3660 * DAY_MS;

/** REQUEST_TOO_LARGE when the work passes a limit, naming the limit; null otherwise. */
export function tooLarge(work: RequestWork, limits: RequestLimits): GraphQLError | null {
  const over = (what: string, setting: string, value: number, limit: number) =>
    new GraphQLError(
      `the request asks for ${value} ${what}, more than ${setting} (${limit}) allows; ask for fewer days, clients or calls per request`,
      { extensions: { code: 'REQUEST_TOO_LARGE', limit: setting, asked: value, allowed: limit } },
    );
  if (work.days > limits.maxDays) return over('days of history', 'REQUEST_MAX_DAYS', work.days, limits.maxDays);
  if (work.calls > limits.maxCalls) return over('calls in its pages', 'REQUEST_MAX_CALLS', work.calls, limits.maxCalls);
  if ((work.values ?? 0) > limits.maxValues) return over('values in its response', 'REQUEST_MAX_VALUES', work.values ?? 0, limits.maxValues);
  return null;
}

/** The fields a selection set asks for, through fragments and inline fragments. */
function fieldsOf(selectionSet: SelectionSetNode | undefined, fragments: Readonly<Record<string, FragmentDefinitionNode>>, seen = new Set<string>()): FieldNode[] {
  const fields: FieldNode[] = [];
  for (const selection of selectionSet?.selections ?? []) {
    if (selection.kind === Kind.FIELD) fields.push(selection);
    else if (selection.kind === Kind.INLINE_FRAGMENT) fields.push(...fieldsOf(selection.selectionSet, fragments, seen));
    else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      fields.push(...fieldsOf(fragments[selection.name.value]?.selectionSet, fragments, seen));
    }
  }
  return fields;
}

/** Whether a serviceCalls field's selections return calls (nodes or edges), or only totals. */
export function selectsCalls(fieldNodes: readonly FieldNode[], fragments: Readonly<Record<string, FragmentDefinitionNode>>): boolean {
  return fieldNodes.some((node) => fieldsOf(node.selectionSet, fragments).some((field) => PAGE_FIELDS.has(field.name.value)));
}

/** The local days of a period; 0 for one the resolver refuses (outside the served range, reversed). */
function periodDays(periodFrom: DateTimeInput, periodTo: DateTimeInput, zone: string): number {
  if (!(periodFrom.wall >= SERVED_WALL_FROM - DAY_MS) || !(periodTo.wall <= SERVED_WALL_TO + DAY_MS)) return 0;
  const from = instantOf(periodFrom, zone);
  const to = instantOf(periodTo, zone);
  if (!(to > from) || to - from > MAX_PERIOD_MS) return 0;
  return daysOfPeriod(from, to, (t) => localDayOf(t, zone)).length;
}

/**
 * The work an operation asks for, from its document and variables, before anything runs: every
 * serviceCalls field counts its period's days and (when it selects nodes or edges) its page size,
 * times how often it is asked (the items of an entity list, the calls of an outer page).
 */
export function plannedWork(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, rawVariables: Record<string, unknown> | undefined, zone: string): RequestWork {
  const work: RequestWork = { days: 0, calls: 0, values: 0 };
  const operation = getOperationAST(document, operationName);
  const root = operation?.operation === 'query' ? schema.getQueryType() : null;
  if (!operation || !root) return work;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {});
  if (coerced.errors) return work; // refused anyway, before execution
  const variables = coerced.coerced;
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;

  const walk = (selectionSet: SelectionSetNode | undefined, parent: GraphQLObjectType, times: number, depth: number): void => {
    if (depth > 64 || times === 0) return;
    for (const field of fieldsOf(selectionSet, fragments)) {
      const definition = parent.getFields()[field.name.value];
      if (!definition) continue;
      let args: Record<string, unknown>;
      try {
        args = getArgumentValues(definition, field, variables);
      } catch {
        continue; // a bad argument is refused by validation or the resolver
      }
      let inner = times;
      const sizeArgument = LIST_SIZE_ARGUMENTS[field.name.value];
      if (sizeArgument && Array.isArray(args[sizeArgument])) inner = times * (args[sizeArgument] as unknown[]).length;
      if (field.name.value === 'serviceCalls') {
        const filter = args.filter as { periodFrom?: DateTimeInput; periodTo?: DateTimeInput } | undefined;
        const first = typeof args.first === 'number' ? args.first : DEFAULT_PAGE;
        if (filter?.periodFrom && filter.periodTo) work.days += times * periodDays(filter.periodFrom, filter.periodTo, zone);
        if (selectsCalls([field], fragments)) work.calls += times * Math.max(0, first);
        inner = times * Math.max(0, first);
      } else if (!PAGE_FIELDS.has(field.name.value) && !sizeArgument) {
        inner = times;
      }
      const type = getNamedType(definition.type);
      if (!field.selectionSet) work.values = (work.values ?? 0) + times;
      if (isObjectType(type)) walk(field.selectionSet, type, inner, depth + 1);
      else if (field.selectionSet) {
        // An interface or union (_Entity): each possible type's fields.
        for (const possible of schema.getPossibleTypes(type as Parameters<GraphQLSchema['getPossibleTypes']>[0])) walk(field.selectionSet, possible, inner, depth + 1);
      }
    }
  };
  walk(operation.selectionSet, root, 1, 0);
  return work;
}

/**
 * Refuses an operation whole, before it runs, when the work it plans (with the other operations of
 * the same HTTP request) passes REQUEST_MAX_DAYS or REQUEST_MAX_CALLS: nothing is fetched for it.
 */
export function useRequestWorkLimits(limits: RequestLimits, zone: string): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const work = plannedWork(args.schema, args.document, args.operationName, args.variableValues as Record<string, unknown> | undefined, zone);
      // The operations of one HTTP request share its PeriodLoader (the context of yoga.ts).
      const { periods } = args.contextValue as unknown as GraphQLContext;
      const refusal = tooLarge(periods.plan(work), limits);
      if (refusal) setResultAndStopExecution({ errors: [refusal] });
    },
  };
}
