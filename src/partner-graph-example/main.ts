/**
 * `npm run example:partner-graph`: this server in demo mode, a tiny partner subgraph, and both
 * gateways over them, on loopback. Open a gateway's URL and ask
 *   { partnerClients { name serviceCalls(filter: { periodFrom: "…", periodTo: "…" }) { totalCount } } }
 * Ports: EXAMPLE_PORT (default 4100) and the next four.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createYoga } from 'graphql-yoga';
import { loadSettings } from '../config.js';
import { createLogger } from '../server/logger.js';
import { startServer } from '../server/start-server.js';
import { systemClock } from '../time/clock.js';
import { addDays, localDayOf } from '../time/zone.js';
import { composeSupergraph, federationGateway, stitchingGateway } from './gateways.js';
import { federationPartnerSubgraph, type PartnerClient, stitchingPartnerSubgraph } from './partner-subgraph.js';

const base = Number(process.env.EXAMPLE_PORT ?? 4100);
const host = '127.0.0.1';
const logger = createLogger({ level: 'info' });

const settings = loadSettings({ ...process.env, PORT: String(base), HOST: host, CONNECT_URL: '' });
const connect = await startServer(settings, systemClock, logger);
const sdlOf = async (query: string): Promise<unknown> => {
  const response = await fetch(connect.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return ((await response.json()) as { data: unknown }).data;
};

// The partner's clients: in the demo, the simulator's first five, as a partner would store their ClientIDs.
const today = localDayOf(systemClock.now(), settings.connect.timeZone);
const week = { periodFrom: addDays(today, -7), periodTo: today };
const clientIds = (await sdlOf(
  `{ serviceCalls(filter: { periodFrom: "${week.periodFrom}", periodTo: "${week.periodTo}" }, first: 200) { nodes { clientId } } }`,
)) as { serviceCalls: { nodes: Array<{ clientId: string | null }> } };
const ids = [...new Set(clientIds.serviceCalls.nodes.map((n) => n.clientId).filter((id): id is string => id !== null))].slice(0, 5);
const clients: PartnerClient[] = ids.map((id, i) => ({ id, name: `Partner client ${i + 1}` }));

const servers: Server[] = [];
async function listen(port: number, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  servers.push(server);
  return `http://${host}:${port}/graphql`;
}

const stitchingPartner = stitchingPartnerSubgraph(clients);
const federationPartner = federationPartnerSubgraph(clients);
const stitchingPartnerUrl = await listen(base + 1, stitchingPartner.yoga);
const federationPartnerUrl = await listen(base + 2, federationPartner.yoga);
const { _sdl } = (await sdlOf('{ _sdl }')) as { _sdl: string };
const { _service } = (await sdlOf('{ _service { sdl } }')) as { _service: { sdl: string } };
const stitchingUrl = await listen(
  base + 3,
  createYoga({ schema: stitchingGateway({ url: connect.url, sdl: _sdl }, { url: stitchingPartnerUrl, sdl: stitchingPartner.sdl }) }),
);
// The supergraph as a Hive Gateway would serve it (`hive-gateway supergraph <file>`).
const supergraphFile = join(tmpdir(), 'connect-calls-supergraph.graphql');
writeFileSync(supergraphFile, composeSupergraph({ url: connect.url, sdl: _service.sdl }, { url: federationPartnerUrl, sdl: federationPartner.sdl }));
const federationUrl = await listen(
  base + 4,
  createYoga({ schema: federationGateway({ url: connect.url, sdl: _service.sdl }, { url: federationPartnerUrl, sdl: federationPartner.sdl }) }),
);

logger.info('partner graph example ready', {
  connect: connect.url,
  stitchingGateway: stitchingUrl,
  federationGateway: federationUrl,
  supergraph: supergraphFile,
  query: `{ partnerClients { name serviceCalls(filter: { periodFrom: "${week.periodFrom}", periodTo: "${week.periodTo}" }) { totalCount } } }`,
});

const stop = (): void => {
  for (const server of servers) server.closeAllConnections();
  for (const server of servers) server.close();
  connect.cut();
  void connect.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
