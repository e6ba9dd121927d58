import type { CodegenConfig } from '@graphql-codegen/cli';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './src/schema/index.js';

/**
 * The schema is code-first (Pothos): codegen prints it to schema/schema.graphql, sorted and with
 * descriptions, and types the operations the tests send. `npm test` runs it with --check, so a stale
 * committed SDL fails CI.
 */
const config: CodegenConfig = {
  schema: printSchema(lexicographicSortSchema(schema)),
  documents: ['test/**/*.ts', '!test/graphql/**'],
  ignoreNoDocuments: true,
  generates: {
    'schema/schema.graphql': {
      plugins: ['schema-ast'],
      config: { includeDirectives: true, sort: true },
    },
    'test/graphql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { emitLegacyCommonJSImports: false, useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string' } },
    },
  },
};

export default config;
