import { builder } from './builder.js';
import './date-time.js';
import './service-call.js';
import './service-call-connection.js';
import './client.js';
import './support-line.js';
import './account.js';
import './quota.js';
import { stitchingSdl } from './stitching-sdl.js';

builder.queryType({ description: 'Call history of 1C-Connect support lines, served from a quota-aware cache.' });

let sdl: string | undefined;
builder.queryField('_sdl', (t) =>
  t.string({
    description:
      'This schema for a schema-stitching gateway (@graphql-tools/stitching-directives): the served schema ' +
      'without Federation, with @key(selectionSet: "{ id }") on Client, SupportLine and Account and ' +
      '@merge(keyField: "id") on clients, supportLines and accounts. Generated from the served schema.',
    resolve: (_root, _args, _ctx, info) => (sdl ??= stitchingSdl(info.schema)),
  }),
);

/** Federation directives the subgraph declares (a list replaces detection, so it names each in use). */
export const FEDERATION_DIRECTIVES = ['@key', '@shareable'];

// A Federation v2 subgraph (_service, _entities, @key(fields: "id")), sorted by name (Pothos sorts
// the subgraph schema whatever it is asked).
export const schema = builder.toSubGraphSchema({
  linkUrl: 'https://specs.apollo.dev/federation/v2.6',
  federationDirectives: FEDERATION_DIRECTIVES,
});
