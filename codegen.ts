import type { CodegenConfig } from '@graphql-codegen/cli';
import { graphql, lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './src/schema/index.js';
import { stitchingSdl } from './src/schema/stitching-sdl.js';

/**
 * The schema is code-first (Pothos): codegen prints it to schema/schema.graphql, sorted and with
 * descriptions, and types the operations the tests send. `npm test` runs it with --check, so a stale
 * committed SDL fails CI.
 */
/**
 * Prints a partner-graph view of the schema, so codegen writes it beside schema/schema.graphql and
 * `--check` fails when it is stale: `subgraph` is the Federation v2 `_service.sdl`, `stitching` the
 * `_sdl` a stitching gateway reads. Both come from the served schema's own code.
 */
const partnerGraphSdl = {
  async plugin(_schema: unknown, _documents: unknown, options: { view?: string }): Promise<string> {
    if (options.view === 'stitching') return stitchingSdl(schema);
    const result = await graphql({ schema, source: '{ _service { sdl } }', contextValue: {} });
    const sdl = (result.data as { _service?: { sdl?: string } } | null | undefined)?._service?.sdl;
    if (!sdl) throw new Error(`the subgraph SDL could not be read: ${JSON.stringify(result.errors)}`);
    return `${sdl.trimEnd()}\n`;
  },
};

const config: CodegenConfig = {
  pluginLoader: async (name: string) => (name === '@graphql-codegen/partner-graph-sdl' ? partnerGraphSdl : import(name)),
  schema: printSchema(lexicographicSortSchema(schema)),
  documents: ['test/**/*.ts', '!test/graphql/**'],
  ignoreNoDocuments: true,
  generates: {
    'schema/schema.graphql': {
      plugins: ['schema-ast'],
      config: { includeDirectives: true, sort: true },
    },
    // The partner-graph views, printed by the schema's own code and checked like the SDL above.
    'schema/subgraph.graphql': { plugins: ['partner-graph-sdl'], config: { view: 'subgraph' } },
    'schema/stitching.graphql': { plugins: ['partner-graph-sdl'], config: { view: 'stitching' } },
    'test/graphql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { emitLegacyCommonJSImports: false, useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string' } },
    },
  },
};

export default config;
