/**
 * The reliability soak: runs every scenario module in scripts/soak/*.ts (files starting with `_`
 * and types.ts are helpers), or `--only a,b`; `--quick` for a short version of each. Exit 1 if a
 * scenario failed.
 *
 * Only a full run (every scenario, not --quick) makes the record: it writes
 * reliability/results/<YYYY-MM-DD>.json and rewrites RELIABILITY.md from it, once every scenario
 * has run (while it runs, results go to <date>-running.json). A partial run (--quick or --only)
 * writes reliability/results/<date>-partial.json (merged by scenario, so several partial runs of
 * a day add up) and never touches RELIABILITY.md.
 * `--resume` goes on with today's interrupted full run: the scenarios it finished are kept (each
 * row of RELIABILITY.md names the commit it ran on) and the others run.
 * `--render-only [--date D]` rewrites RELIABILITY.md from a full run's results file.
 */
import { killChildren } from "./soak/_children.ts";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { basename, join } from "node:path";
import type { SoakResult } from "./soak/types.ts";

const ROOT = join(import.meta.dir, "..");
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const onlyArg = args.find((_a, i) => args[i - 1] === "--only") ?? args.find((a) => a.startsWith("--only="))?.slice(7);
const only = onlyArg
  ? onlyArg
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
  : null;
const ingest = join(ROOT, "ingest");

interface Module {
  description: string;
  run(opts: { quick: boolean; ingest: string; log: (msg: string) => void }): Promise<SoakResult[]>;
}

interface DayFile {
  date: string;
  machine: { cores: number; cpu: string };
  /** The commit the soak ran (with -dirty if the tree had changes). */
  commit?: string;
  entries: {
    module: string;
    description: string;
    command: string;
    quick: boolean;
    startedAt: string;
    seconds: number;
    commit?: string;
    results: SoakResult[];
  }[];
}

function cpuModel(): string {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  } catch {
    return cpus()[0]?.model ?? "unknown";
  }
}

// Ctrl-C or SIGTERM mid-run: take every broker, server and consumer a scenario started down with us.
for (const [sig, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const) {
  process.on(sig, () => {
    const n = killChildren();
    console.error(
      `soak: ${sig}: stopped ${n} child process(es); the scenario under way is not saved (a full run's finished ones are: bun run soak --resume goes on from them)`,
    );
    process.exit(code);
  });
}

async function main(): Promise<number> {
  if (!existsSync(ingest)) {
    console.error("soak: ./ingest missing: bun run build");
    const b = Bun.spawn(["bun", "run", "build"], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
    if ((await b.exited) !== 0) return 1;
  }
  if (args.includes("--render-only")) {
    // Rewrite RELIABILITY.md from a day's results file without running anything.
    const date = args.find((_a, i) => args[i - 1] === "--date") ?? new Date().toISOString().slice(0, 10);
    writeFileSync(join(ROOT, "RELIABILITY.md"), render(JSON.parse(readFileSync(join(ROOT, "reliability", "results", `${date}.json`), "utf8"))));
    return 0;
  }
  const dir = join(ROOT, "scripts", "soak");
  const names = readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.startsWith("_") && f !== "types.ts" && !f.endsWith(".d.ts"))
    .map((f) => basename(f, ".ts"))
    .sort();
  const chosen = only ? names.filter((n) => only.includes(n)) : names;
  if (only) for (const n of only) if (!names.includes(n)) return (console.error(`soak: no scenario '${n}' (have: ${names.join(", ")})`), 2);
  const command = `bun run soak${quick ? " --quick" : ""}${only ? ` --only ${only.join(",")}` : ""}`;
  const full = !quick && !only;
  const date = new Date().toISOString().slice(0, 10);
  const outDir = join(ROOT, "reliability", "results");
  mkdirSync(outDir, { recursive: true });
  const final = join(outDir, `${date}.json`);
  const file = join(outDir, full ? `${date}-running.json` : `${date}-partial.json`);
  const fresh = (): DayFile => ({ date, machine: { cores: cpus().length, cpu: cpuModel() }, commit: gitCommit(), entries: [] });
  // --resume: a full run that goes on from today's interrupted one (its scenarios already
  // recorded are kept, each with the commit it ran on, and not run again).
  const resume = full && args.includes("--resume") && existsSync(file);
  const day: DayFile = (!full || resume) && existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : fresh();
  for (const e of day.entries) e.commit ??= day.commit;
  day.commit = gitCommit();
  day.machine = { cores: cpus().length, cpu: cpuModel() };
  let failed = false;
  for (const name of chosen) {
    if (resume && day.entries.some((e) => e.module === name)) {
      console.error(`soak: ${name}: kept from the interrupted run (--resume)`);
      continue;
    }
    const mod = (await import(join(dir, `${name}.ts`))) as Partial<Module>;
    if (typeof mod.run !== "function") continue;
    const t0 = performance.now();
    const startedAt = new Date().toISOString();
    console.error(`soak: ${name}${quick ? " (quick)" : ""} ...`);
    let results: SoakResult[];
    try {
      results = await mod.run({ quick, ingest, log: (m) => console.error(`  [${name}] ${m}`) });
    } catch (e) {
      results = [{ scenario: name, runs: 0, records: 0, lost: 0, duplicated: 0, pass: false, notes: `scenario threw: ${(e as Error).stack ?? e}` }];
    }
    const seconds = (performance.now() - t0) / 1000;
    for (const r of results) {
      if (!r.pass) failed = true;
      console.error(
        `soak: ${r.scenario}: ${r.pass ? "PASS" : "FAIL"} runs ${r.runs} records ${r.records} lost ${r.lost} duplicated ${r.duplicated} (${seconds.toFixed(0)} s) ${r.notes}`,
      );
    }
    // A partial run re-reads before writing: another partial run may have written since.
    if (!full && existsSync(file)) day.entries = (JSON.parse(readFileSync(file, "utf8")) as DayFile).entries;
    day.entries = day.entries.filter((e) => e.module !== name);
    day.entries.push({
      module: name,
      description: mod.description ?? "",
      command,
      quick,
      startedAt,
      seconds: Math.round(seconds),
      commit: gitCommit(),
      results,
    });
    // Written after each scenario, so an interrupted soak still leaves what it measured.
    writeFileSync(file, `${JSON.stringify(day, null, 2)}\n`);
  }
  if (full) {
    renameSync(file, final);
    writeFileSync(join(ROOT, "RELIABILITY.md"), render(day));
    console.error(`soak: wrote ${final} and RELIABILITY.md`);
  } else console.error(`soak: wrote ${file} (a partial run: RELIABILITY.md is only rewritten by a full run, bun run soak)`);
  return failed ? 1 : 0;
}

function gitCommit(): string | undefined {
  const head = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: ROOT });
  if (head.exitCode !== 0) return undefined;
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { cwd: ROOT }).stdout.toString().trim() !== "";
  return `${head.stdout.toString().trim()}${dirty ? "-dirty" : ""}`;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function render(day: DayFile): string {
  const entries = [...day.entries].sort((a, b) => a.module.localeCompare(b.module));
  const out = [
    "# Reliability",
    "",
    "Generated by `bun run soak` (scripts/soak.ts) from the scenario modules in `scripts/soak/`; the raw",
    `figures are in \`reliability/results/${day.date}.json\`. Do not edit by hand: run the soak again.`,
    "",
    `- Date: ${day.date}`,
    `- Machine: ${day.machine.cores} cores, ${day.machine.cpu}`,
    `- Commits: ${[...new Set(entries.map((e) => e.commit ?? day.commit ?? "unknown"))].join(", ")} (each row names its own: a run resumed after new commits spans several)`,
    `- Commands: ${[...new Set(entries.map((e) => `\`${e.command}\``))].join(", ")}`,
    "",
    "| scenario | broker | runs | records | lost | duplicated | result | notes |",
    "|---|---|---:|---:|---:|---:|---|---|",
  ];
  for (const e of entries) {
    for (const r of e.results) {
      out.push(
        `| ${cell(r.scenario)} | ${cell(r.broker ?? "embedded")} | ${r.runs} | ${r.records} | ${r.lost} | ${r.duplicated} | ${r.pass ? "pass" : "**FAIL**"} | ${cell(r.notes)} (${e.quick ? "quick, " : ""}${e.seconds} s, \`${e.command}\`, ${e.startedAt}, commit ${e.commit ?? day.commit ?? "unknown"}) |`,
      );
    }
  }
  out.push("", "## Scenarios", "");
  for (const e of entries) out.push(`### ${e.module}`, "", e.description || "(no description)", "");
  return `${out.join("\n")}\n`;
}

process.exit(await main());
