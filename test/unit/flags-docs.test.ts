/**
 * One spec per flag: docs/commands.md is what the specs generate, every command's --help lists
 * every flag its spec declares, every default passes its own flag's check, and every
 * environment variable src/ reads is in src/cli/env.ts (or behind a flag's spec).
 */
import { test, expect } from "bun:test";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { renderCommandsDoc, commandSpecs, DOC_PATH } from "../../scripts/docs-flags.ts";
import { COMMON_FLAGS, readFlag, flagUsage, type FlagSpecs } from "../../src/cli/flags.ts";
import { ENV_VARS } from "../../src/cli/env.ts";
import { PRODUCE_RUNTIME_OPTIONS } from "../../src/cli/runtime-options.ts";
import { runIngest, ROOT } from "../helpers/cli.ts";

const withCommon = (flags: FlagSpecs): FlagSpecs => ({ ...flags, ...COMMON_FLAGS });

test("docs/commands.md is what the flag specs generate (bun scripts/docs-flags.ts)", async () => {
  const want = await renderCommandsDoc();
  const have = readFileSync(DOC_PATH, "utf8");
  // The first differing line, not two whole files.
  const a = have.split("\n");
  const b = want.split("\n");
  const i = b.findIndex((l, j) => l !== a[j]);
  expect(
    i === -1 && a.length === b.length ? null : { line: i + 1, docs: a[i], specs: b[i] },
    "docs/commands.md is out of date: run bun scripts/docs-flags.ts",
  ).toBeNull();
});

test("each command's --help lists every flag of its spec, with its default and environment variable", async () => {
  const specs = await commandSpecs();
  expect(specs.map((c): string => c.name).sort()).toEqual(
    readdirSync(join(ROOT, "src/commands"))
      .filter((f) => f.endsWith(".ts") && f !== "command.ts")
      .map((f) => f.replace(/\.ts$/, ""))
      .sort(),
  );
  await Promise.all(
    specs.map(async (c) => {
      const r = await runIngest([c.name, "--help"]);
      expect({ cmd: c.name, code: r.code }).toEqual({ cmd: c.name, code: 0 });
      expect(r.stdout).toBe(c.help);
      for (const [name, s] of Object.entries(withCommon(c.flags))) {
        const entry = new RegExp(
          `^ +${flagUsage(name, s)
            .trim()
            .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(\\s|$)`,
          "m",
        );
        expect(r.stdout, `${c.name} --help lacks ${name}`).toMatch(entry);
        if (s.env) expect(r.stdout.replace(/\s+/g, " "), `${c.name} --help: ${name}'s env`).toContain(`env ${s.env}`);
        if (s.default !== undefined)
          expect(r.stdout.replace(/\s+/g, " "), `${c.name} --help: ${name}'s default`).toContain(`default ${s.default === "" ? "''" : s.default}`);
      }
    }),
  );
});

test("every default passes its own flag's check", async () => {
  for (const c of await commandSpecs()) {
    for (const [name, s] of Object.entries(withCommon(c.flags))) {
      if (s.default === undefined || s.kind === "output") continue; // an output default ("-") is not a file to check here
      expect(() => readFlag(name, s, s.default!), `${c.name} --${name} default '${s.default}'`).not.toThrow();
    }
  }
});

/** Every `process.env.NAME`, `process.env["NAME"]` and `Bun.env.NAME` in src/, with where it is. */
function envReads(): { name: string; at: string }[] {
  const out: { name: string; at: string }[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js|c)$/.test(f)) {
        readFileSync(p, "utf8")
          .split("\n")
          .forEach((line, i) => {
            for (const m of line.matchAll(/(?:process\.env|Bun\.env)(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*["'`]([^"'`]+)["'`]\s*\]|\[([^\]]*)\])?/g)) {
              const name = m[1] ?? m[2] ?? (m[3] !== undefined ? `<dynamic ${m[3]}>` : "<whole environment>");
              out.push({ name, at: `${relative(ROOT, p)}:${i + 1}` });
            }
            for (const m of line.matchAll(/\bgetenv\("([^"]+)"\)/g)) out.push({ name: m[1]!, at: `${relative(ROOT, p)}:${i + 1}` });
          });
      }
    }
  };
  walk(join(ROOT, "src"));
  return out;
}

test("every environment variable src/ reads is in src/cli/env.ts ENV_VARS or a flag's spec, and every flag's is in ENV_VARS", async () => {
  const reads = envReads();
  expect(reads.length).toBeGreaterThan(10);
  const fromSpecs = new Set<string>();
  for (const c of await commandSpecs()) for (const s of Object.values(withCommon(c.flags))) if (s.env) fromSpecs.add(s.env);
  for (const e of fromSpecs) expect(Object.keys(ENV_VARS), `a flag's env ${e} is not in ENV_VARS`).toContain(e);
  // Reads by computed name: the parser reading a spec's env (checked above), and runtime-options.ts,
  // which reads the variables it would set (and copies the whole environment for the re-executed process).
  for (const r of reads.filter((r) => r.name.startsWith("<"))) {
    const allowed = (r.name === "<dynamic s.env>" && r.at.startsWith("src/cli/flags.ts:")) || r.at.startsWith("src/cli/runtime-options.ts:");
    expect(allowed, `${r.name} read at ${r.at}: name the variable, or say here what it reads`).toBe(true);
  }
  for (const k of Object.keys(PRODUCE_RUNTIME_OPTIONS)) expect(Object.keys(ENV_VARS), `runtime option ${k}`).toContain(k);
  for (const r of reads.filter((r) => !r.name.startsWith("<")))
    expect(fromSpecs.has(r.name) || r.name in ENV_VARS, `${r.name} (read at ${r.at}) is in neither ENV_VARS nor a flag's spec`).toBe(true);
});
