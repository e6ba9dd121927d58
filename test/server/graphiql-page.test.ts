import { gunzipSync, gzipSync } from 'node:zlib';
import { parse, validate } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { type Harness, startHarness } from '../support/harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const NOW = '2024-03-20T10:00:00+03:00';
const page = async (h: Harness, headers: Record<string, string> = {}): Promise<Response> =>
  await h.yoga.fetch('http://yoga.test/graphql', { headers: { accept: 'text/html', ...headers } });

/** The `defaultQuery` GraphiQL's options carry, as embedded in the page. */
function embeddedDefaultQuery(html: string): string {
  const embedded = /"defaultQuery":("(?:[^"\\]|\\.)*")/.exec(html);
  expect(embedded).not.toBeNull();
  return JSON.parse(embedded?.[1] as string) as string;
}

describe('GraphiQL page', () => {
  it('has every asset inlined: no URL outside this server, the title filled in', async () => {
    const h = (harness = await startHarness({ now: NOW }));
    const response = await page(h);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = await response.text();
    // Yoga's own page takes its scripts and styles from unpkg.com, and says "Loading __TITLE__" offline.
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toContain('unpkg.com');
    expect(html).not.toContain('__TITLE__');
    expect(html).toContain('<title>connect-calls-graphql</title>');
    expect(h.upstreamCalls()).toBe(0);
  });

  it('goes gzipped to a client that accepts it, the same page', async () => {
    const h = (harness = await startHarness({ now: NOW }));
    const plain = Buffer.from(await (await page(h)).arrayBuffer());
    const response = await page(h, { 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    const gzipped = Buffer.from(await response.arrayBuffer());
    expect(gzipped.length).toBeLessThan(plain.length / 3);
    expect(gunzipSync(gzipped).equals(plain)).toBe(true);
  });

  it('starts with the demo query, valid against the schema; the partner shape is only a comment', async () => {
    const h = (harness = await startHarness({ now: NOW }));
    const query = embeddedDefaultQuery(await (await page(h)).text());
    const document = parse(query);
    expect(document.definitions.map((d) => ('name' in d ? d.name?.value : undefined))).toEqual(['LastWeek']);
    expect(validate(schema, document)).toEqual([]);
    // The stitched shape a partner gateway asks for, over the same week.
    const comment = query
      .split('\n')
      .filter((line) => line.startsWith('#'))
      .map((line) => line.replace(/^#\s?/, ''))
      .join('\n');
    expect(comment.replace(/\s+/g, ' ')).toContain(
      '{ partnerClients { name serviceCalls(filter: { periodFrom: "2024-03-14T00:00:00", periodTo: "2024-03-21T00:00:00" }) { totalCount } } }',
    );
    expect(query).toContain('periodFrom: "2024-03-14T00:00:00", periodTo: "2024-03-21T00:00:00"');
  });

  it('is not served with GRAPHIQL=false: a browser gets 406', async () => {
    const h = (harness = await startHarness({ now: NOW, env: { GRAPHIQL: 'false' } }));
    const response = await page(h);
    expect(response.status).toBe(406);
    expect(await response.text()).not.toContain('GraphiQL');
  });

  it('reads a gzip-encoded request body (a gateway may compress what it sends)', async () => {
    const h = (harness = await startHarness({ now: NOW }));
    const response = await h.yoga.fetch('http://yoga.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ query: '{ quota { usedLastHour } }' })),
    });
    expect(await response.json()).toEqual({ data: { quota: { usedLastHour: 0 } } });
  });
});
