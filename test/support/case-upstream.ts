import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The files of shared/cases, copied into the repo: responses built from what real 1C servers send. */
export const CASES_DIR = fileURLToPath(new URL('../fixtures/cases/', import.meta.url));

export function caseFile(name: string): Buffer {
  return readFileSync(`${CASES_DIR}${name}`);
}

/** What the stand-in answers one request with. */
export interface CannedResponse {
  body: Buffer;
  /** Default `application/soap+xml; charset=utf-8`. */
  contentType?: string;
}

export interface CaseUpstream {
  url: string;
  login: string;
  password: string;
  /** The PeriodFrom of every request received, as written (local time, no offset). */
  readonly requests: string[];
  close(): Promise<void>;
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A 1C-Connect stand-in on loopback that answers each GetHistoryOfServiceCalls request with a canned
 * response chosen by its PeriodFrom, and counts every request. A period it has no answer for is a
 * test bug: it answers 500 so the test fails loudly.
 */
export async function startCaseUpstream(answer: (periodFrom: string) => CannedResponse | undefined): Promise<CaseUpstream> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    void bodyOf(request).then((xml) => {
      const periodFrom = /name="PeriodFrom"[^>]*>\s*<[^>]*>([^<]*)</.exec(xml)?.[1] ?? '';
      requests.push(periodFrom);
      const canned = answer(periodFrom);
      if (!canned) {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`no canned answer for PeriodFrom ${periodFrom}`);
        return;
      }
      response.writeHead(200, { 'content-type': canned.contentType ?? 'application/soap+xml; charset=utf-8' }).end(canned.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cus/ws/PartnerWebAPI2`,
    login: 'case-user',
    password: 'case-secret',
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
