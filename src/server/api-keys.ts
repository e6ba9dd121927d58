import { createHash, timingSafeEqual } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

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
