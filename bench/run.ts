/** `npm run bench [decode|graphql]`: every benchmark prints ratios against a baseline of the same run. */
import { runDecodeBench } from './decode.js';
import { runGraphqlBench } from './graphql.js';

const wanted = process.argv.slice(2);
const benches: Record<string, () => Promise<void>> = { decode: runDecodeBench, graphql: runGraphqlBench };
for (const name of wanted.length ? wanted : Object.keys(benches)) {
  const bench = benches[name];
  if (!bench) throw new Error(`unknown benchmark ${name}; choose from ${Object.keys(benches).join(', ')}`);
  await bench();
}
