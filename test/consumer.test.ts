// The package as users get it: `npm run build`, `npm pack`, then temporary projects that install
// the tarball, compile with this repository's TypeScript (tsconfig from `tsc --init`), and run a
// small server on Node 20 that a real ws client gets an echo from.
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  createProject,
  installedVersion,
  mustRun,
  type ProjectSpec,
  parseTsconfig,
  replyFrom,
  root,
  tsc,
  tsxBin,
  writeVariant,
} from "./helpers/consumer.js";

/** The style options `tsc --init` leaves commented out, turned on (noPropertyAccessFromIndexSignature aside). */
const STYLE_OPTIONS = {
  noImplicitReturns: true,
  noImplicitOverride: true,
  noUnusedLocals: true,
  noUnusedParameters: true,
  noFallthroughCasesInSwitch: true,
};

let work = "";
let tarball = "";
const dir = (fixture: string) => join(work, fixture);

before(async () => {
  work = await mkdtemp(join(tmpdir(), "tsws-consumer-"));
  await mustRun("npm", ["run", "build"], root);
  const packed = JSON.parse(await mustRun("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], root)) as [
    { filename: string },
  ];
  tarball = join(work, packed[0].filename);
  const typesNode = `@types/node@${await installedVersion("@types/node")}`;
  const ioredis = `ioredis@${await installedVersion("ioredis")}`;
  const zod = `zod@${await installedVersion("zod")}`;
  const ws = `ws@${await installedVersion("ws")}`;
  const projects: ProjectSpec[] = [
    { fixture: "esm-strict", type: "module", deps: [typesNode, ioredis, zod, ws], typescript: true },
    { fixture: "esm-decorators", type: "module", deps: [typesNode], typescript: true },
    { fixture: "cjs", type: "commonjs", deps: [typesNode], typescript: true },
    { fixture: "experimental-decorators", type: "commonjs", deps: [typesNode], typescript: true },
    { fixture: "js", type: "module", deps: [], typescript: false },
  ];
  await Promise.all(projects.map((spec) => createProject(dir(spec.fixture), spec, tarball)));
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the published package", () => {
  test("every exports target is in the tarball, and each declaration's imports are dependencies", async () => {
    const installed = join(dir("js"), "node_modules", "tswebsockets");
    const pkg = JSON.parse(await readFile(join(installed, "package.json"), "utf8")) as {
      exports: Record<string, string | Record<string, Record<string, string>>>;
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
    };
    const files = new Set((await readdir(installed, { recursive: true })).map((f) => f.replaceAll("\\", "/")));
    for (const [subpath, conditions] of Object.entries(pkg.exports)) {
      if (typeof conditions === "string") continue; // "./package.json"
      for (const condition of ["import", "require", "default"]) {
        const target = conditions[condition];
        assert.ok(target, `exports["${subpath}"] has a "${condition}" condition`);
        for (const path of [target.types, target.default]) {
          assert.ok(path && files.has(path.slice(2)), `exports["${subpath}"].${condition} points at ${path}, which is shipped`);
        }
      }
    }
    const declarations = [...files].filter((f) => /\.d\.c?ts$/.test(f));
    assert.ok(declarations.length > 10, "the declarations are shipped");
    const allowed = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)]);
    for (const file of declarations) {
      // TSDoc examples import the package by name: only code counts.
      const text = (await readFile(join(installed, file), "utf8")).replace(/\/\*[\s\S]*?\*\//g, "");
      for (const [, specifier] of text.matchAll(/(?:from|import\()\s*["']([^"'.][^"']*)["']/g)) {
        const name = specifier?.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier?.split("/")[0];
        if (name === undefined || specifier?.startsWith("node:")) continue;
        const typesName = `@types/${name}`;
        assert.ok(
          allowed.has(typesName) || allowed.has(name),
          `${file} imports "${specifier}": ${typesName} or ${name} must be a dependency`,
        );
      }
    }
  });

  test("the public classes declare only the documented API: no internal member in Socket or Server", async () => {
    const installed = join(dir("js"), "node_modules", "tswebsockets", "dist");
    // DESIGN.md's Socket and Server, plus the documented extras (closeReason, droppedMessages, namespace, size, roomCount, the admin views).
    const documented: Record<string, { file: string; members: string[] }> = {
      Socket: {
        file: "socket/socket.d.ts",
        members: [
          "id",
          "path",
          "namespace",
          "resumed",
          "params",
          "request",
          "server",
          "session",
          "user",
          "closeReason",
          "droppedMessages",
          "cookies",
          "data",
        ].concat(["closed", "rooms", "send", "close", "join", "leave", "constructor", "#private"]),
      },
      Server: {
        file: "server.d.ts",
        members: [
          "listen",
          "to",
          "getSocket",
          "size",
          "roomCount",
          "sendTo",
          "closeSession",
          "closeUser",
          "close",
          "constructor",
          "#private",
          // read-only views for metrics and the admin page (docs/observability.md)
          "nodeId",
          "sockets",
          "socketsOfUser",
          "connectionsByNamespace",
          "largestRooms",
          "adapterStats",
        ],
      },
    };
    for (const [name, { file, members }] of Object.entries(documented)) {
      const text = await readFile(join(installed, file), "utf8");
      const body = text.slice(text.search(new RegExp(`declare class ${name}[ <]`))).split("\n}\n")[0] ?? "";
      const declared = new Set(
        [...body.replace(/\/\*[\s\S]*?\*\//g, "").matchAll(/^ {4}(?:readonly |get |set |static |private |protected )*(#?\w+)/gm)].map(
          (m) => m[1],
        ),
      );
      assert.ok(declared.size > 5, `found the members of ${name} in ${file}`);
      for (const member of declared)
        assert.ok(members.includes(member as string), `${name}.${member} is declared in ${file} but is not public API`);
    }
  });

  test("no shipped file points at a source map or source that is not shipped", async () => {
    const installed = join(dir("js"), "node_modules", "tswebsockets");
    const files = new Set((await readdir(installed, { recursive: true })).map((f) => f.replaceAll("\\", "/")));
    for (const file of files) {
      if (!/\.(c?js|d\.c?ts)$/.test(file)) continue;
      const text = await readFile(join(installed, file), "utf8");
      for (const [, map] of text.matchAll(/\/\/# sourceMappingURL=(\S+)/g)) {
        const mapPath = join(file, "..", map ?? "").replaceAll("\\", "/");
        assert.ok(files.has(mapPath), `${file} names ${map}, which is not shipped`);
        const sources = (JSON.parse(await readFile(join(installed, mapPath), "utf8")) as { sources: string[] }).sources;
        for (const source of sources) {
          const sourcePath = join(mapPath, "..", source).replaceAll("\\", "/");
          assert.ok(files.has(sourcePath), `${mapPath} points at ${source}, which is not shipped`);
        }
      }
    }
  });
});

describe("ESM + TypeScript strict (tsconfig from tsc --init)", () => {
  test("tsc --init turns on strict, noUncheckedIndexedAccess and exactOptionalPropertyTypes", async () => {
    const { compilerOptions } = parseTsconfig(await readFile(join(dir("esm-strict"), "tsconfig.json"), "utf8"));
    assert.equal(compilerOptions.strict, true);
    assert.equal(compilerOptions.noUncheckedIndexedAccess, true);
    assert.equal(compilerOptions.exactOptionalPropertyTypes, true);
    assert.equal(compilerOptions.module, "nodenext");
  });

  test("both entry points type-check under nodenext, node16, bundler and skipLibCheck false, and load", async () => {
    const d = dir("esm-strict");
    await Promise.all([
      tsc(d, await writeVariant(d, "load", ["load.ts"])),
      tsc(d, await writeVariant(d, "node16", ["load.ts"], { module: "node16", moduleResolution: "node16", noEmit: true })),
      tsc(d, await writeVariant(d, "bundler", ["load.ts"], { module: "preserve", moduleResolution: "bundler", noEmit: true })),
      tsc(d, await writeVariant(d, "libcheck", ["load.ts"], { skipLibCheck: false, noEmit: true })),
    ]);
    assert.equal(await mustRun(process.execPath, ["load.js"], d), '["function","function","function",0,"consumer"]\n');
  });

  test("socket.user, session and data are typed by declaration merging; options take an explicit undefined", async () => {
    const d = dir("esm-strict");
    await tsc(d, await writeVariant(d, "typed", ["typed.ts"], { noEmit: true }));
  });

  test("a server registered with namespace() compiles, runs on Node 20 and echoes", async () => {
    const d = dir("esm-strict");
    await tsc(d, await writeVariant(d, "server", ["server.ts"]));
    assert.equal(await replyFrom(d, process.execPath, ["server.js"], "/chat/lobby", "hi"), "HI");
  });
});

describe("tswebsockets/client and tswebsockets/contract (ESM, TypeScript strict)", () => {
  test("a contract-typed client and an events() server type-check under nodenext, node16 and bundler, and run", async () => {
    const d = dir("esm-strict");
    await Promise.all([
      tsc(d, await writeVariant(d, "rpc", ["rpc.ts"])),
      tsc(d, await writeVariant(d, "rpc-node16", ["rpc.ts"], { module: "node16", moduleResolution: "node16", noEmit: true })),
      tsc(d, await writeVariant(d, "rpc-bundler", ["rpc.ts"], { module: "preserve", moduleResolution: "bundler", noEmit: true })),
    ]);
    // The reply, INVALID_PAYLOAD from the contract's check, the declared error code, the server's event.
    assert.equal(await mustRun(process.execPath, ["rpc.js"], d), '["HI","INVALID_PAYLOAD","SHOUTING","number","open"]\n');
  });
});

describe("the README's first example with @Namespace", () => {
  test("runs with tsx and echoes", async () => {
    assert.equal(await replyFrom(dir("esm-decorators"), tsxBin, ["server.ts"], "/chat/lobby", "hi"), "HI");
  });

  test("compiles under tsc --init with the style options and target es2022, and the output runs on Node 20", async () => {
    const d = dir("esm-decorators");
    await tsc(d, await writeVariant(d, "server", ["server.ts"], { ...STYLE_OPTIONS, target: "es2022" }));
    assert.equal(await replyFrom(d, process.execPath, ["server.js"], "/chat/lobby", "hi"), "HI");
  });
});

describe("CommonJS (type: commonjs, tsconfig from tsc --init)", () => {
  // tsc --init's verbatimModuleSyntax forbids `import` in a CommonJS file (TS1295): CommonJS
  // projects turn it off (or write `import x = require()`), so these variants do.
  const cjs = { verbatimModuleSyntax: false };

  test("both entry points type-check under nodenext and node16 in CommonJS mode, and require() loads them", async () => {
    const d = dir("cjs");
    await Promise.all([
      tsc(d, await writeVariant(d, "load", ["load.ts"], cjs)),
      tsc(d, await writeVariant(d, "node16", ["load.ts"], { ...cjs, module: "node16", moduleResolution: "node16", noEmit: true })),
    ]);
    const emitted = await readFile(join(d, "load.js"), "utf8");
    assert.match(emitted, /require\("tswebsockets"\)/);
    assert.match(emitted, /require\("tswebsockets\/redis"\)/);
    assert.equal(await mustRun(process.execPath, ["load.js"], d), '["function","function","function",0]\n');
  });

  test("a server compiled to require() runs on Node 20 and echoes", async () => {
    const d = dir("cjs");
    await tsc(d, await writeVariant(d, "server", ["server.ts"], cjs));
    assert.equal(await replyFrom(d, process.execPath, ["server.js"], "/echo/", "hi"), "hi");
  });
});

describe("experimentalDecorators (NestJS, TypeORM, Angular)", () => {
  test("@Namespace compiles as a legacy decorator, and the output runs on Node 20 and echoes", async () => {
    const d = dir("experimental-decorators");
    const options = { experimentalDecorators: true, emitDecoratorMetadata: true, verbatimModuleSyntax: false };
    await tsc(d, await writeVariant(d, "server", ["server.ts"], options));
    assert.equal(await replyFrom(d, process.execPath, ["server.js"], "/echo/", "hi"), "hi");
  });
});

describe("plain JavaScript", () => {
  test("import and require() load both entry points", async () => {
    const d = dir("js");
    assert.equal(await mustRun(process.execPath, ["load.mjs"], d), '["function","function"]\n');
    assert.equal(await mustRun(process.execPath, ["load.cjs"], d), '["function","function"]\n');
  });

  test("an ESM server registered with namespace() echoes", async () => {
    assert.equal(await replyFrom(dir("js"), process.execPath, ["server.mjs"], "/echo/", "hi"), "hi");
  });

  test("a CommonJS server registered with namespace() echoes", async () => {
    assert.equal(await replyFrom(dir("js"), process.execPath, ["server.cjs"], "/echo/", "hi"), "hi");
  });
});
