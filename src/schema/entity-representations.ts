import { getOperationAST, getVariableValues, GraphQLError, Kind, valueFromASTUntyped, type FieldNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { STITCHED_ENTITIES } from './stitching-sdl.js';

/**
 * Federation's `_entities(representations:)` takes any JSON; one it cannot resolve (an unknown
 * `__typename`, a missing `id`, a string) fails deep inside the federation plugin as an internal
 * error that nulls the whole response. Checked before the operation runs: a representation must
 * name one of our entities and carry a string `id`, or the operation is refused with BAD_USER_INPUT
 * naming the index.
 */
export function useEntityRepresentationCheck(): Plugin {
  const entities = new Set(Object.keys(STITCHED_ENTITIES));
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      const field = operation?.selectionSet.selections.find(
        (s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === '_entities',
      );
      const argument = field?.arguments?.find((a) => a.name.value === 'representations');
      if (!operation || !argument) return;
      const coerced = getVariableValues(args.schema, operation.variableDefinitions ?? [], (args.variableValues ?? {}) as Record<string, unknown>);
      if (coerced.errors) return;
      const representations = valueFromASTUntyped(argument.value, coerced.coerced);
      if (!Array.isArray(representations)) return;
      const bad = representations.findIndex((r: unknown) => {
        const record = r as { __typename?: unknown; id?: unknown } | null;
        return typeof record !== 'object' || record === null || typeof record.__typename !== 'string' || !entities.has(record.__typename) || (record.id !== undefined && typeof record.id !== 'string' && typeof record.id !== 'number');
      });
      if (bad < 0) return;
      setResultAndStopExecution({
        errors: [
          new GraphQLError(
            `_entities: representation ${bad} is not one of ${[...entities].join(', ')} with an id: ${JSON.stringify(representations[bad]).slice(0, 100)}`,
            { extensions: { code: 'BAD_USER_INPUT', argument: 'representations', index: bad } },
          ),
        ],
      });
    },
  };
}
