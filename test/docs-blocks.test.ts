// Every ```ts block of README.md and docs/*.md type-checks under the tsconfig `tsc --init` writes
// (strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes), plus `types: ["node"]` as its
// own comments advise for Node, with "tswebsockets" and each subpath mapped to src/.
//
// Markers: HTML comments (invisible on GitHub) on the lines right above a block's fence:
//   <!-- ts-check: skip REASON -->       not checked (say why)
//   <!-- ts-check: pending REASON -->    checked, but a todo until src/ is fixed (say what it needs)
//   <!-- ts-check: prelude CODE -->      CODE goes before the block (declarations a fragment leans on)
//   <!-- ts-check: continues -->         the previous block of the same file goes before this one
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { mustRun, parseTsconfig, root, run, tscBin } from "./helpers/consumer.js";

interface Block {
  readonly id: string; // "README.md:120" (the line of the opening fence)
  readonly code: string;
  readonly prelude: string;
  readonly skip?: string;
  readonly pending?: string;
}

const MARKER = /^<!-- ts-check: (skip|pending|prelude|continues)\s*(.*?)\s*-->$/;

/** The ```ts blocks of one Markdown file with their markers. */
export function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ts\s*$/.test(lines[i] ?? "")) continue;
    const end = lines.indexOf("```", i + 1);
    assert.ok(end > i, `${file}:${i + 1}: a \`\`\`ts block without its closing fence`);
    const markers: Record<string, string[]> = {};
    for (let j = i - 1; j >= 0 && MARKER.test(lines[j] ?? ""); j--) {
      const [, key = "", value = ""] = MARKER.exec(lines[j] ?? "") ?? [];
      (markers[key] ??= []).unshift(value);
    }
    const previous = blocks.at(-1);
    const prelude = [markers.continues && previous ? `${previous.prelude}${previous.code}` : "", ...(markers.prelude ?? [])].join("\n");
    blocks.push({
      id: `${file}:${i + 1}`,
      code: lines.slice(i + 1, end).join("\n"),
      prelude: prelude ? `${prelude}\n` : "",
      ...(markers.skip ? { skip: markers.skip[0] || "marked skip" } : {}),
      ...(markers.pending ? { pending: markers.pending[0] || "marked pending" } : {}),
    });
    i = end;
  }
  return blocks;
}

/** "tswebsockets" and each subpath of package.json's exports, mapped to the source file. */
async function sourcePaths(): Promise<Record<string, string[]>> {
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { exports: Record<string, unknown> };
  const paths: Record<string, string[]> = {};
  for (const [subpath, conditions] of Object.entries(pkg.exports)) {
    const target = (conditions as { import?: { default?: string } }).import?.default;
    if (!target) continue;
    const source = target.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts");
    paths[`tswebsockets${subpath.slice(1)}`] = [join(root, source)];
  }
  return paths;
}

const docs = ["README.md", ...(await readdir(join(root, "docs"))).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const blocks: Block[] = [];
for (const file of docs) blocks.push(...extractBlocks(file, await readFile(join(root, file), "utf8")));

// Inside the repository so the blocks find its node_modules (express, passport, ioredis types).
const work = join(root, "test-output", `docs-blocks-${process.pid}`);
const fileOf = (block: Block) => `${block.id.replace(/[^a-z0-9]+/gi, "-")}.ts`;
let diagnostics = new Map<string, string[]>();

before(async () => {
  await mkdir(work, { recursive: true });
  await mustRun(tscBin, ["--init"], work);
  const init = parseTsconfig(await readFile(join(work, "tsconfig.json"), "utf8"));
  assert.equal(init.compilerOptions.strict, true, "tsc --init writes a strict config");
  const compilerOptions = { ...init.compilerOptions, types: ["node"], noEmit: true, paths: await sourcePaths() };
  await writeFile(join(work, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["*.ts"] }, null, 2));
  for (const block of blocks) if (!block.skip) await writeFile(join(work, fileOf(block)), block.prelude + block.code);
  // One compilation for all blocks; each block is its own module (moduleDetection: force).
  const result = await run(tscBin, ["-p", ".", "--pretty", "false"], work, 120_000);
  diagnostics = new Map();
  for (const line of `${result.stdout}${result.stderr}`.split("\n")) {
    const match = /^([^(\s]+)\(\d+,\d+\): error/.exec(line);
    if (match?.[1]) diagnostics.set(match[1], [...(diagnostics.get(match[1]) ?? []), line]);
    else if (line.startsWith("  ") && diagnostics.size > 0) [...diagnostics.values()].at(-1)?.push(line);
  }
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

test("the docs have TypeScript blocks to check", () => {
  assert.ok(blocks.filter((b) => !b.skip).length >= 5, `found ${blocks.length} blocks`);
});

for (const block of blocks) {
  const options = block.skip ? { skip: block.skip } : block.pending ? { todo: block.pending } : {};
  test(`${block.id} type-checks`, options, () => {
    const errors = diagnostics.get(fileOf(block)) ?? [];
    const preludeLines = block.prelude.split("\n").length - 1;
    assert.deepEqual(errors, [], `${block.id} (block lines are offset by ${preludeLines} prelude lines):\n${errors.join("\n")}`);
  });
}
