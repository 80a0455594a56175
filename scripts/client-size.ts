// The client's size budget: tswebsockets/client bundled for the browser (esbuild, minified ESM,
// everything it imports included) and gzipped at level 9. `npm run size` prints it; the test
// test/client-size.test.ts fails the suite above the budget.
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

/** The budget for the whole client, in gzip bytes (the 5 KB). */
export const BUDGET = 5 * 1024;

/** Bundles the client's entry and measures it: { minified, gzip } in bytes. */
export async function clientSize(entry = new URL("../src/client/index.ts", import.meta.url).pathname): Promise<{ minified: number; gzip: number }> {
  const result = await build({ entryPoints: [entry], bundle: true, minify: true, format: "esm", platform: "browser", write: false, logLevel: "silent" });
  const code = result.outputFiles[0]!.contents;
  return { minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { minified, gzip } = await clientSize();
  console.log(`tswebsockets/client: ${minified} B minified, ${gzip} B gzip (budget ${BUDGET} B)`);
  if (gzip > BUDGET) process.exitCode = 1;
}
