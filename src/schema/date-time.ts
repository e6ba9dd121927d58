import { GraphQLError, Kind } from 'graphql';
import { builder } from './builder.js';
import { type DateTimeInput, formatZonedInstant, parseDateTimeInput } from './date-time-value.js';

function parse(value: unknown): DateTimeInput {
  const parsed = typeof value === 'string' ? parseDateTimeInput(value) : 'not a string';
  if (typeof parsed === 'string') {
    throw new GraphQLError(
      `DateTime must be ISO 8601 like 2024-03-01T09:00:00+03:00 (an offset is optional) or a date like 2024-03-01; ` +
        `got ${JSON.stringify(value)}: ${parsed}`,
      { extensions: { code: 'BAD_USER_INPUT' } },
    );
  }
  return parsed;
}

builder.scalarType('DateTime', {
  description:
    'An instant as ISO 8601. Output always carries an offset (that of the upstream zone, CONNECT_TIMEZONE). ' +
    'Input is an xs:dateTime (Z or ±hh:mm optional, 24:00:00 allowed) or a bare date YYYY-MM-DD; ' +
    'input without an offset, or a bare date, is read in CONNECT_TIMEZONE.',
  serialize: (value) => formatZonedInstant(value),
  parseValue: parse,
  parseLiteral: (node) => parse(node.kind === Kind.STRING ? node.value : undefined),
});
