// Writes a CommonJS twin (.d.cts) of every declaration file in dist/. The package is ESM; Node
// 20.19+ can require() it, but TypeScript with `module: node16` refuses ESM declarations in a
// CommonJS file (TS1479). The `require` condition of `exports` points at these twins instead.
// Relative specifiers are rewritten from .js to .cjs so each twin imports the other twins.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dist = process.argv[2] ?? "dist";
const relative = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']+)\.js\2/g;
let count = 0;
for (const entry of readdirSync(dist, { recursive: true, encoding: "utf8" })) {
  if (!entry.endsWith(".d.ts")) continue;
  const file = join(dist, entry);
  const text = readFileSync(file, "utf8").replace(relative, "$1$2$3.cjs$2");
  writeFileSync(file.replace(/\.d\.ts$/, ".d.cts"), text);
  count++;
}
if (count === 0) throw new Error(`cjs-types: no .d.ts files under ${dist}; run tsc first`);
