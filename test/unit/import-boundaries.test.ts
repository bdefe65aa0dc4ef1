/**
 * The layers of src/ point one way (README.md, "Architecture"): each folder may import only the
 * folders listed for it below, and code outside src/kafka/ reaches the Kafka layer only through
 * src/kafka/index.ts. A new import that crosses a line fails here, naming the file and the import.
 */
import { test, expect } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, dirname, normalize, relative } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const SRC = join(ROOT, "src");

/** Folder -> the folders (besides itself) it may import. `core` is below everything. */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  observability: ["core"],
  kafka: ["core", "observability"],
  csv: ["core", "observability"],
  codecs: ["core", "observability", "csv"],
  gen: ["core", "observability", "csv"],
  sinks: ["core", "observability"],
  produce: ["core", "observability", "csv", "codecs", "kafka"],
  consume: ["core", "observability", "codecs", "kafka", "sinks"],
  http: ["core", "observability", "codecs", "kafka", "sinks"],
  monitor: ["core", "observability", "kafka"],
  cli: ["core", "observability", "codecs", "kafka"],
  commands: ["core", "observability", "cli", "csv", "codecs", "kafka", "gen", "produce", "consume", "sinks", "http", "monitor"],
};
/** The entry point dispatches to the commands (lazily); nothing else in cli/ may. */
const EXCEPTIONS: Record<string, readonly string[]> = { "src/cli/main.ts": ["commands"] };

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : /\.(ts|js)$/.test(name) && !name.endsWith(".d.ts") ? [p] : [];
  });
}

/** Every relative module a file imports: static imports, re-exports and import("..."). */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1]!);
  return out;
}

/** Every import of src/ that breaks a rule, as "file: import (why)". */
function violations(): string[] {
  const bad: string[] = [];
  for (const file of sources(SRC)) {
    const rel = relative(ROOT, file);
    const from = rel.split("/")[1]!;
    for (const spec of importsOf(readFileSync(file, "utf8"))) {
      const target = relative(ROOT, normalize(join(dirname(file), spec)));
      if (!target.startsWith("src/")) continue; // package.json, data/*.avsc
      const to = target.split("/")[1]!;
      if (to === from) continue;
      if (!(from in ALLOWED)) bad.push(`${rel}: ${spec} (folder src/${from} has no entry in the layer table)`);
      else if (!ALLOWED[from]!.includes(to) && !EXCEPTIONS[rel]?.includes(to)) bad.push(`${rel}: ${spec} (src/${from} may not import src/${to})`);
      else if (to === "kafka" && target !== "src/kafka/index.ts")
        bad.push(`${rel}: ${spec} (outside src/kafka, import the Kafka layer through src/kafka/index.ts)`);
    }
  }
  return bad;
}

test("imports point down the layer table, and into src/kafka only through its index", () => {
  expect(violations()).toEqual([]);
});

test("the import reader sees static imports, re-exports and dynamic imports (so the rule above can fail)", () => {
  const text = `import { a } from "../kafka/ffi.ts";\nexport { b } from "./x.ts";\nconst m = await import("../commands/gen.ts");\nimport "../side.ts";\n// "../not-an-import.ts"\n`;
  expect(importsOf(text)).toEqual(["../kafka/ffi.ts", "./x.ts", "../commands/gen.ts", "../side.ts"]);
});
