import { createHash, timingSafeEqual } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/** The bearer token of a request, as a hex digest (never the key itself): whom the key's share of the hour is counted for. */
export function apiKeyDigest(request: Request): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec((request.headers.get('authorization') ?? '').trim());
  return match ? digest(match[1] as string).toString('hex') : undefined;
}

/** With API_KEYS set, every GraphQL operation needs `Authorization: Bearer <key>`; GraphiQL's page still loads. */
export function useApiKeys(keys: readonly string[]): Plugin {
  const known = keys.map(digest);
  return {
    onParams({ request, setResult }) {
      const header = request.headers.get('authorization') ?? '';
      const match = /^Bearer\s+(.+)$/i.exec(header.trim());
      const given = match ? digest(match[1] as string) : null;
      if (given && known.some((k) => timingSafeEqual(k, given))) return;
      setResult({
        errors: [
          new GraphQLError('a valid API key is required: send Authorization: Bearer <key>', {
            extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
          }),
        ],
      });
    },
  };
}
