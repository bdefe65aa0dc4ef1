/**
 * Mutation testing of the modules that carry the project's guarantees: StrykerJS (its command
 * runner: every mutant is one `bun test` run of the tests that guard the module) changes one
 * piece of code at a time and checks that some test fails. A mutant no test notices ("survived")
 * is a behaviour nothing pins, or an equivalent change (see docs/testing.md).
 *
 *   bun run mutate                 every module below
 *   bun run mutate orders dlq      some of them
 *   bun run mutate --list          the modules, what each mutates and which tests it runs
 *
 * StrykerJS runs on Node (>= 20 for the pinned 9.x; 10.x wants Node 22) and is installed on
 * first use into .tools/stryker, outside the project's dependencies: `bun install` and CI do not
 * pay for it. Reports go to .cache/mutate/<module>.json (mutation-testing-report-schema) and a
 * summary of scores and surviving mutants to .cache/mutate/summary.md.
 * MUTATE_TESTS="bun test ..." replaces the test command (e.g. to score an older set of tests),
 * MUTATE_TAG names such a run's outputs (<module>.<tag>.json, summary.<tag>.md), and
 * MUTATE_CONCURRENCY (default 1) sets how many mutants run at once.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const STRYKER_VERSION = "9.6.1";
const TOOLS = join(ROOT, ".tools", "stryker");
const STRYKER_BIN = join(TOOLS, "node_modules", "@stryker-mutator", "core", "bin", "stryker.js");
const OUT = join(ROOT, ".cache", "mutate");
const TAG = process.env.MUTATE_TAG ? `.${process.env.MUTATE_TAG.replace(/[^\w-]/g, "_")}` : "";

interface Module {
  /** What it guards, one line. */
  about: string;
  /** A whole file, or named functions/methods of it (mutated by line range). */
  file: string;
  functions?: string[];
  /** The tests that guard it, and a -t filter over them. */
  tests: string[];
  filter?: string;
  /**
   * How much longer than the unmutated run a mutant's run may take before it counts as a
   * timeout (an infinite loop, a wait that never ends: detected). Broker tests wait on purpose
   * (retries, group joins), so they get more room than unit tests.
   */
  timeoutMs: number;
}

export const MODULES: Record<string, Module> = {
  offsets: {
    about: "the offset tracker: only positions whose records (and all before them) are done are committable",
    file: "src/consume/offsets.ts",
    tests: ["test/unit/offsets.test.ts"],
    timeoutMs: 15_000,
  },
  commits: {
    about: "the consume engine's hand-off from written sub-batches to the tracker, and its commits",
    file: "src/consume/engine.ts",
    functions: ["enqueue", "closeRun", "runDone", "commitNow"],
    tests: ["test/integration/consume-guarantees.test.ts", "test/integration/consume.test.ts"],
    filter: "gave up|final offset commit|stdout closed",
    timeoutMs: 60_000,
  },
  orders: {
    about: "order decisions: offset order, stock never below zero, the last unit sellable, duplicates",
    file: "src/sinks/orders-logic.ts",
    tests: ["test/integration/order-decisions.test.ts"],
    timeoutMs: 15_000,
  },
  validation: {
    about: "consume-side validation: what is written and what is poison (dead-lettered)",
    file: "src/consume/records.ts",
    tests: ["test/unit/records.test.ts"],
    timeoutMs: 15_000,
  },
  dlq: {
    about: "the dead-letter path: poison records are done only once <topic>.dlq acknowledged them",
    file: "src/consume/engine.ts",
    functions: ["toDlq", "sendDlq"],
    tests: ["test/integration/consume-guarantees.test.ts", "test/integration/consume.test.ts"],
    filter: "dead-letter|poison record goes to",
    timeoutMs: 60_000,
  },
  refusals: {
    about: "the producer's refusal handling: QUEUE_FULL retried within the wait, then reported failed, never dropped",
    file: "src/kafka/producer.ts",
    functions: ["produceBatch", "fail"],
    tests: ["test/integration/producer-refusals.test.ts", "test/integration/kafka.test.ts"],
    filter: "QUEUE_FULL|refus|from, to|ordered by partition",
    timeoutMs: 60_000,
  },
};

/** 1-based first and last line of a function or method declared as `name(` (ends at the `}` at its indentation). */
export function functionLines(source: string, name: string): [number, number] {
  const lines = source.split("\n");
  const decl = new RegExp(`^(\\s*)(?:(?:export|async|function|private|protected|public|static|override)\\s+)*${name}\\s*[(<]`);
  for (let i = 0; i < lines.length; i++) {
    const m = decl.exec(lines[i]!);
    if (!m) continue;
    const close = `${m[1]}}`;
    for (let j = i + 1; j < lines.length; j++) if (lines[j]!.startsWith(close) && lines[j]!.trimEnd() === close) return [i + 1, j + 1];
  }
  throw new Error(`mutate: no function '${name}' found`);
}

function mutateSpecs(m: Module): string[] {
  if (!m.functions) return [m.file];
  const src = readFileSync(join(ROOT, m.file), "utf8");
  return m.functions.map((f) => {
    const [a, b] = functionLines(src, f);
    return `${m.file}:${a}-${b}`;
  });
}

function testCommand(m: Module): string {
  if (process.env.MUTATE_TESTS) return process.env.MUTATE_TESTS;
  return ["bun test --bail --timeout 120000", ...m.tests, ...(m.filter ? ["-t", `'${m.filter}'`] : [])].join(" ");
}

function ensureStryker(): void {
  const pkg = join(TOOLS, "node_modules", "@stryker-mutator", "core", "package.json");
  if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).version === STRYKER_VERSION) return;
  console.error(`mutate: installing @stryker-mutator/core@${STRYKER_VERSION} into .tools/stryker (once)`);
  mkdirSync(TOOLS, { recursive: true });
  const r = Bun.spawnSync(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", TOOLS, `@stryker-mutator/core@${STRYKER_VERSION}`], {
    stdout: "inherit",
    stderr: "inherit",
  });
  if (r.exitCode !== 0) throw new Error("mutate: npm install of StrykerJS failed");
}

interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}

interface Score {
  module: string;
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  errors: number;
  score: number;
  survivors: string[];
}

function score(module: string, reportPath: string): Score {
  const report = JSON.parse(readFileSync(reportPath, "utf8")) as { files: Record<string, { source: string; mutants: Mutant[] }> };
  const s: Score = { module, killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, score: 0, survivors: [] };
  for (const [file, f] of Object.entries(report.files)) {
    const lines = f.source.split("\n");
    for (const m of f.mutants.sort((a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column)) {
      if (m.status === "Killed") s.killed++;
      else if (m.status === "Timeout") s.timeout++;
      else if (m.status === "Survived" || m.status === "NoCoverage") {
        if (m.status === "Survived") s.survived++;
        else s.noCoverage++;
        const { start, end } = m.location;
        const original =
          start.line === end.line ? lines[start.line - 1]!.slice(start.column - 1, end.column - 1) : `${lines[start.line - 1]!.slice(start.column - 1)} ...`;
        const cut = (t: string) => (t.length > 90 ? `${t.slice(0, 87)}...` : t).replace(/\s+/g, " ");
        s.survivors.push(
          `${file}:${start.line}:${start.column} ${m.mutatorName} ${m.status === "NoCoverage" ? "(no coverage) " : ""}\`${cut(original)}\` -> \`${cut(m.replacement ?? "")}\``,
        );
      } else s.errors++;
    }
  }
  const valid = s.killed + s.timeout + s.survived + s.noCoverage;
  s.score = valid ? (100 * (s.killed + s.timeout)) / valid : NaN;
  return s;
}

async function run(name: string, m: Module): Promise<Score> {
  mkdirSync(OUT, { recursive: true });
  const report = join(OUT, `${name}${TAG}.json`);
  const config = {
    testRunner: "command",
    commandRunner: { command: testCommand(m) },
    coverageAnalysis: "off",
    mutate: mutateSpecs(m),
    concurrency: Number(process.env.MUTATE_CONCURRENCY ?? 1),
    timeoutMS: m.timeoutMs,
    timeoutFactor: 2,
    dryRunTimeoutMinutes: 15,
    // One per run: runs may go on side by side, and each deletes its own when done.
    tempDirName: `.cache/mutate-sandbox/${name}-${process.pid}`,
    // Copied into each sandbox: everything the tests read, nothing large they do not.
    ignorePatterns: [
      "/.tools",
      "/.cache",
      "/ingest",
      "*.map",
      "/data/*.csv",
      "!/data/*.sample.csv",
      "/data/out",
      "/bench",
      "/reliability",
      "/deploy",
      "/tmp",
      "*.rejects.csv*",
    ],
    reporters: ["json", "clear-text", "progress"],
    jsonReporter: { fileName: report },
    clearTextReporter: { allowColor: false, logTests: false, reportTests: false, reportMutants: false },
    cleanTempDir: "always",
  };
  const configPath = join(OUT, `${name}${TAG}.stryker.json`);
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  console.error(`mutate ${name}: ${config.mutate.join(", ")}; tests: ${config.commandRunner.command}`);
  // The tests must run the mutated sources, not a built executable.
  const env: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: "error" };
  delete env.INGEST_BIN;
  const p = Bun.spawn(["node", STRYKER_BIN, "run", configPath], { cwd: ROOT, env, stdout: "inherit", stderr: "inherit" });
  if ((await p.exited) !== 0) throw new Error(`mutate ${name}: stryker exited ${p.exitCode}`);
  return score(name, report);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log("Usage: bun run mutate [--list] [MODULE...]\nModules: " + Object.keys(MODULES).join(", "));
    return 0;
  }
  if (args.includes("--list")) {
    for (const [name, m] of Object.entries(MODULES)) console.log(`${name}: ${m.about}\n  mutates ${mutateSpecs(m).join(", ")}\n  tests   ${testCommand(m)}`);
    return 0;
  }
  const unknown = args.filter((a) => !(a in MODULES));
  if (unknown.length) {
    console.error(`error: unknown module(s) ${unknown.join(", ")}; expected some of ${Object.keys(MODULES).join(", ")}`);
    return 2;
  }
  ensureStryker();
  const names = args.length ? args : Object.keys(MODULES);
  const scores: Score[] = [];
  for (const n of names) scores.push(await run(n, MODULES[n]!));
  const when = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const lines = [
    `# mutation scores, ${when}${TAG ? ` (${TAG.slice(1)})` : ""}`,
    "",
    "| module | killed | timeout | survived | no coverage | score |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...scores.map((s) => `| ${s.module} | ${s.killed} | ${s.timeout} | ${s.survived} | ${s.noCoverage} | ${s.score.toFixed(1)}% |`),
    "",
    ...scores.flatMap((s) => (s.survivors.length ? [`## ${s.module}: surviving mutants`, "", ...s.survivors.map((x) => `- ${x}`), ""] : [])),
  ];
  writeFileSync(join(OUT, `summary${TAG}.md`), lines.join("\n"));
  console.log(lines.join("\n"));
  return 0;
}

if (import.meta.main) process.exit(await main());
