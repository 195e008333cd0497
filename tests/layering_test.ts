/**
 * The layering of docs/design.md §2, held: every module of src/ (and main.ts) is in exactly one layer of the
 * table there, imports only from its own layer or lower ones, and no set of modules imports itself in a cycle.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { REPO } from "./harness.ts";

interface Layer {
  rank: number;
  name: string;
  /** Module paths from the repository root; one ending in `/` holds every module below that folder. */
  modules: string[];
}

/** Module → the modules it imports (static and dynamic imports of relative paths). */
type ImportGraph = Map<string, string[]>;

/** The layer table of docs/design.md §2: rows `| rank | name | `path`, … | … |`. Pure. */
function parseLayers(design: string): Layer[] {
  const section = design.split(/^## 2\./m)[1].split(/^## 3\./m)[0];
  return [...section.matchAll(/^\|\s*(\d+)\s*\|\s*([a-z]+)\s*\|([^|]*)\|/gm)].map(([, rank, name, cell]) => ({
    rank: Number(rank),
    name,
    modules: [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]),
  }));
}

/** Problems with the graph against the layers: unplaced modules, upward imports, and cycles. Pure. */
function layeringProblems(graph: ImportGraph, layers: Layer[]): string[] {
  const problems: string[] = [];
  const layerOf = (module: string) => {
    const found = layers.filter((layer) =>
      layer.modules.some((path) => path.endsWith("/") ? module.startsWith(path) : module === path)
    );
    if (found.length !== 1) problems.push(`${module} is in ${found.length} layers of the table, not one`);
    return found[0];
  };
  for (const [module, imports] of graph) {
    const own = layerOf(module);
    for (const imported of imports) {
      const theirs = layerOf(imported);
      if (own && theirs && theirs.rank > own.rank) {
        problems.push(`${module} (${own.name}) imports ${imported} (${theirs.name}), a higher layer`);
      }
    }
  }
  const state = new Map<string, "open" | "done">();
  const visit = (module: string, path: string[]) => {
    state.set(module, "open");
    for (const imported of graph.get(module) ?? []) {
      if (state.get(imported) === "open") {
        problems.push(`cycle: ${[...path.slice(path.indexOf(imported)), module, imported].join(" → ")}`);
      } else if (!state.has(imported)) visit(imported, [...path, module]);
    }
    state.set(module, "done");
  };
  for (const module of [...graph.keys()].sort()) if (!state.has(module)) visit(module, []);
  return [...new Set(problems)].sort();
}

/** The import graph of main.ts and src/, read from the files. */
async function readImportGraph(): Promise<ImportGraph> {
  const modules = ["main.ts", ...(await sourceFiles("src")).sort()];
  const graph: ImportGraph = new Map();
  for (const module of modules) {
    const text = await Deno.readTextFile(join(REPO, module));
    const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)"(\.{1,2}\/[^"]+)"/g)].map((m) =>
      m[1]
    );
    graph.set(module, specifiers.map((specifier) => relative(REPO, join(REPO, dirname(module), specifier))));
  }
  return graph;
}

async function sourceFiles(folder: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(join(REPO, folder))) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory) files.push(...await sourceFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

const layers = parseLayers(await Deno.readTextFile(join(REPO, "docs/design.md")));

Deno.test("docs/design.md §2 names the layers from base to entry", () => {
  assert.deepEqual(layers.map((layer) => layer.rank), layers.map((_, i) => i + 1));
  assert.equal(layers[0].name, "base");
  assert.deepEqual(layers.at(-1)?.modules, ["main.ts"]);
});

Deno.test("main.ts and every module of src/ sit in one layer, import no higher layer, and form no cycle", async () => {
  const graph = await readImportGraph();
  assert.ok(graph.size > 40, `only ${graph.size} modules read`);
  assert.deepEqual(layeringProblems(graph, layers), []);
});

Deno.test("the check finds an upward import, a cycle and a module outside the table", () => {
  const graph: ImportGraph = new Map([
    ["src/log.ts", ["src/config/cli.ts"]],
    ["src/config/cli.ts", ["src/config/settings.ts"]],
    ["src/config/settings.ts", ["src/config/cli.ts"]],
    ["src/stray.ts", []],
  ]);
  assert.deepEqual(layeringProblems(graph, layers), [
    "cycle: src/config/cli.ts → src/config/settings.ts → src/config/cli.ts",
    "src/log.ts (base) imports src/config/cli.ts (config), a higher layer",
    "src/stray.ts is in 0 layers of the table, not one",
  ]);
});
