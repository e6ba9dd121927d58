/** `npm run bench [decode|economy|graphql|liveness|replicas|store]`: every benchmark prints ratios against a baseline of the same run. */

// Measured as `npm start` runs the server (src/main.ts), before graphql is loaded.
process.env.NODE_ENV ??= 'production';
const { runDecodeBench } = await import('./decode.js');
const { runEconomyBench } = await import('./economy.js');
const { runGraphqlBench } = await import('./graphql.js');
const { runLivenessBench } = await import('./liveness.js');
const { runReplicasBench } = await import('./replicas.js');
const { runStoreBench } = await import('./store.js');

const wanted = process.argv.slice(2);
const benches: Record<string, () => Promise<void>> = { decode: runDecodeBench, economy: runEconomyBench, graphql: runGraphqlBench, liveness: runLivenessBench, replicas: runReplicasBench, store: runStoreBench };
for (const name of wanted.length ? wanted : Object.keys(benches)) {
  const bench = benches[name];
  if (!bench) throw new Error(`unknown benchmark ${name}; choose from ${Object.keys(benches).join(', ')}`);
  await bench();
}
