import SchemaBuilder from '@pothos/core';
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
  defaultFieldNullability: false,
});
