import { afterAll, describe, expect, it } from 'vitest';
import { type NpmProcess, spawnNpm } from '../support/npm-process.js';

let npm: NpmProcess | undefined;
afterAll(async () => {
  await npm?.kill();
});

interface Ready {
  connect: string;
  stitchingGateway: string;
  federationGateway: string;
  query: string;
}

const post = async (url: string, query: string): Promise<{ data?: Record<string, unknown>; errors?: unknown }> =>
  (await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) })).json()) as {
    data?: Record<string, unknown>;
    errors?: unknown;
  };

describe('npm run example:partner-graph (the README example)', () => {
  it('serves both gateways over the demo: the same totals, one upstream call for the week', async () => {
    npm = spawnNpm('example:partner-graph', { EXAMPLE_PORT: '4870' });
    const line = (await npm.waitFor(/\{[^\n]*"message":"partner graph example ready"[^\n]*\}\n/, 60_000))[0];
    const ready = JSON.parse(line) as Ready;
    const viaStitching = await post(ready.stitchingGateway, ready.query);
    const viaFederation = await post(ready.federationGateway, ready.query);
    expect(viaStitching.errors).toBeUndefined();
    expect(viaFederation).toEqual(viaStitching);
    const clients = (viaStitching.data?.partnerClients ?? []) as Array<{ name: string; serviceCalls: { totalCount: number } }>;
    expect(clients).toHaveLength(5);
    expect(clients.every((c) => c.serviceCalls.totalCount > 0)).toBe(true);
    // The example looked the clients up over the same week, so the gateways cost no more calls.
    expect(await post(ready.connect, '{ quota { usedLastHour } }')).toEqual({ data: { quota: { usedLastHour: 1 } } });
    process.kill(npm.pid, 'SIGTERM');
    expect((await npm.closed).code).toBe(0);
  }, 90_000);
});
