import { builder } from './builder.js';
import './date-time.js';
import './service-call.js';
import './service-call-connection.js';
import './quota.js';

builder.queryType({ description: 'Call history of 1C-Connect support lines, served from a quota-aware cache.' });

// Natural order at run time (GraphiQL shows arguments as written); codegen prints the SDL sorted.
export const schema = builder.toSchema({ sortSchema: false });
