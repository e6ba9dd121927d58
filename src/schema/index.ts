import { builder } from './builder.js';
import './date-time.js';
import './service-call.js';
import './service-call-connection.js';
import './quota.js';

builder.queryType({ description: 'Call history of 1C-Connect support lines, served from a quota-aware cache.' });

export const schema = builder.toSchema({ sortSchema: true });
