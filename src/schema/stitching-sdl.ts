import { stitchingDirectives } from '@graphql-tools/stitching-directives';
import {
  type ConstDirectiveNode,
  type DefinitionNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type GraphQLSchema,
  Kind,
  parse,
  print,
  printSchema,
} from 'graphql';

/** The entity types a stitching gateway merges, and the Query list field that loads each by id. */
export const STITCHED_ENTITIES = { Client: 'clients', SupportLine: 'supportLines', Account: 'accounts' } as const;

const directive = (name: string, args: Record<string, string>): ConstDirectiveNode => ({
  kind: Kind.DIRECTIVE,
  name: { kind: Kind.NAME, value: name },
  arguments: Object.entries(args).map(([arg, value]) => ({
    kind: Kind.ARGUMENT,
    name: { kind: Kind.NAME, value: arg },
    value: { kind: Kind.STRING, value },
  })),
});

/** Federation's own machinery, which a stitching gateway neither needs nor understands. */
const isFederationType = (name: string): boolean =>
  name.startsWith('_') || name.startsWith('link__') || name.startsWith('federation__') || name === 'FieldSet';
const FEDERATION_FIELDS = new Set(['_service', '_entities']);

/**
 * The schema as a stitching gateway reads it (`_sdl`): the served schema without Federation's types,
 * fields and directives, with `@key(selectionSet: "{ id }")` on the entities and
 * `@merge(keyField: "id")` on their list entry points, after the stitching directive definitions.
 * Federation and stitching both name a directive `@key`, so the executable schema serves Federation
 * and this text alone carries the stitching view.
 */
export function stitchingSdl(schema: GraphQLSchema): string {
  // printSchema leaves out directive applications: exactly the Federation ones to drop.
  const served = parse(printSchema(schema));
  const definitions: DefinitionNode[] = [];
  for (const definition of served.definitions) {
    if (definition.kind === Kind.DIRECTIVE_DEFINITION) continue;
    if ('name' in definition && definition.name && isFederationType(definition.name.value)) continue;
    if (definition.kind === Kind.OBJECT_TYPE_DEFINITION) {
      const name = definition.name.value;
      if (name === 'Query') {
        const fields = (definition.fields ?? [])
          .filter((field) => !FEDERATION_FIELDS.has(field.name.value))
          .map((field): FieldDefinitionNode =>
            (Object.values(STITCHED_ENTITIES) as string[]).includes(field.name.value)
              ? { ...field, directives: [...(field.directives ?? []), directive('merge', { keyField: 'id' })] }
              : field,
          );
        definitions.push({ ...definition, fields });
        continue;
      }
      if (name in STITCHED_ENTITIES) {
        definitions.push({ ...definition, directives: [...(definition.directives ?? []), directive('key', { selectionSet: '{ id }' })] });
        continue;
      }
    }
    definitions.push(definition);
  }
  const document: DocumentNode = { kind: Kind.DOCUMENT, definitions };
  return `${stitchingDirectives().stitchingDirectivesTypeDefs}\n\n${print(document)}\n`;
}
