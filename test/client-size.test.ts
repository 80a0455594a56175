// The client's gzip size is part of its contract (issue 14: at most 5 KB for the whole client).
import assert from "node:assert/strict";
import { it } from "node:test";
import { BUDGET, clientSize } from "../scripts/client-size.js";

it(`bundles tswebsockets/client to at most ${BUDGET} bytes of gzip`, async () => {
  const { minified, gzip } = await clientSize();
  console.log(`tswebsockets/client: ${minified} B minified, ${gzip} B gzip (budget ${BUDGET} B, ${((100 * gzip) / BUDGET).toFixed(0)} %)`);
  assert.ok(gzip > 1000, `a ${gzip} B bundle cannot hold the client: is the entry right?`);
  assert.ok(gzip <= BUDGET, `the client is ${gzip} B gzip, over its ${BUDGET} B budget`);
});
