/**
 * The two ways a partner graph takes this server in, as a gateway of the partner builds them: schema
 * stitching from our `_sdl`, and Federation v2 from a supergraph composed of our `_service.sdl` and
 * the partner's subgraph (what Hive Gateway runs: @graphql-tools/federation is its engine).
 */
import { buildHTTPExecutor } from '@graphql-tools/executor-http';
import { getStitchedSchemaFromSupergraphSdl } from '@graphql-tools/federation';
import { stitchSchemas } from '@graphql-tools/stitch';
import { stitchingDirectives } from '@graphql-tools/stitching-directives';
import { composeServices } from '@theguild/federation-composition';
import { buildSchema, type GraphQLSchema, parse } from 'graphql';

/** How the gateway reaches a subgraph: its URL and the fetch to use (tests pass in-process ones). */
export interface SubgraphEndpoint {
  url: string;
  sdl: string;
  fetch?: typeof fetch;
}

export function stitchingGateway(connect: SubgraphEndpoint, partner: SubgraphEndpoint): GraphQLSchema {
  const { stitchingDirectivesTransformer } = stitchingDirectives();
  const subschema = (endpoint: SubgraphEndpoint) => ({
    schema: buildSchema(endpoint.sdl),
    executor: buildHTTPExecutor({ endpoint: endpoint.url, ...(endpoint.fetch ? { fetch: endpoint.fetch } : {}) }),
    // One request per subgraph for all the delegations of a tick.
    batch: true,
  });
  return stitchSchemas({ subschemaConfigTransforms: [stitchingDirectivesTransformer], subschemas: [subschema(connect), subschema(partner)] });
}

/** The supergraph of our subgraph and the partner's, as Hive Gateway (or `hive-gateway supergraph`) takes it. */
export function composeSupergraph(connect: SubgraphEndpoint, partner: SubgraphEndpoint): string {
  const composed = composeServices([
    { name: 'connect', typeDefs: parse(connect.sdl), url: connect.url },
    { name: 'partner', typeDefs: parse(partner.sdl), url: partner.url },
  ]);
  if (!composed.supergraphSdl) throw new Error(`composition failed: ${(composed.errors ?? []).map((e) => e.message).join('; ')}`);
  return composed.supergraphSdl;
}

export function federationGateway(connect: SubgraphEndpoint, partner: SubgraphEndpoint): GraphQLSchema {
  return getStitchedSchemaFromSupergraphSdl({
    supergraphSdl: composeSupergraph(connect, partner),
    // Subgraphs are named as the supergraph's join__Graph values (CONNECT, PARTNER).
    httpExecutorOpts: ({ name }) => ({ fetch: (name.toLowerCase() === 'connect' ? connect.fetch : partner.fetch) ?? fetch }),
    batch: true,
  });
}
