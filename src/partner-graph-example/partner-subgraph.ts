/**
 * A tiny partner subgraph, the smallest graph a 1C partner already has: its own clients with their
 * names. It keys its Client by the 1C-Connect ClientID it stores, so a gateway can merge our
 * Client.serviceCalls onto it. Served in both flavours: schema stitching and Federation v2.
 */
import { buildSubgraphSchema } from '@apollo/subgraph';
import { stitchingDirectives } from '@graphql-tools/stitching-directives';
import { parse } from 'graphql';
import { createSchema, createYoga, type YogaServerInstance } from 'graphql-yoga';

export interface PartnerClient {
  /** The 1C-Connect ClientID, which the partner stores beside its own records. */
  id: string;
  name: string;
}

export interface PartnerSubgraph {
  sdl: string;
  /** Yoga with its default (empty) context types. */
  yoga: YogaServerInstance<{}, {}>;
}

/** For a stitching gateway: Client merged by id through `partnerClientsById`. */
export function stitchingPartnerSubgraph(clients: readonly PartnerClient[]): PartnerSubgraph {
  const sdl = `${stitchingDirectives().stitchingDirectivesTypeDefs}
type Client @key(selectionSet: "{ id }") {
  id: ID!
  name: String!
}
type Query {
  partnerClients: [Client!]!
  partnerClientsById(ids: [ID!]!): [Client]! @merge(keyField: "id")
}
`;
  const byId = new Map(clients.map((c) => [c.id, c]));
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: sdl,
      resolvers: {
        Query: {
          partnerClients: () => clients,
          partnerClientsById: (_root: unknown, { ids }: { ids: string[] }) => ids.map((id) => byId.get(id) ?? null),
        },
      },
    }),
  });
  return { sdl, yoga };
}

/** For a Federation gateway: the same Client as an entity with @key(fields: "id"). */
export function federationPartnerSubgraph(clients: readonly PartnerClient[]): PartnerSubgraph {
  const sdl = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])
type Client @key(fields: "id") {
  id: ID!
  name: String!
}
type Query {
  partnerClients: [Client!]!
}
`;
  const byId = new Map(clients.map((c) => [c.id, c]));
  const yoga = createYoga({
    schema: buildSubgraphSchema({
      typeDefs: parse(sdl),
      resolvers: {
        Query: { partnerClients: () => clients },
        Client: { __resolveReference: (ref: { id: string }) => byId.get(ref.id) ?? null },
      },
    }),
  });
  return { sdl, yoga };
}
