import SchemaBuilder from '@pothos/core';
import DirectivesPlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import type { GraphQLContext } from './context.js';
import type { DateTimeInput, ZonedInstant } from './date-time-value.js';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  Scalars: {
    DateTime: { Input: DateTimeInput; Output: ZonedInstant };
    ID: { Input: string; Output: string };
  };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
}>({
  // Federation's directives (@key, @shareable, @link) reach the printed subgraph SDL through the
  // directives plugin.
  plugins: [DirectivesPlugin, FederationPlugin],
  defaultFieldNullability: false,
});
