import { spawn } from "./_children.ts";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SoakResult } from "./types.ts";
import { startChildBroker } from "./_consumer-lib.ts";
import { rng } from "../../src/gen/random.ts";
import { fuzzCsv, checkCsvRun } from "../../test/helpers/csv-fuzz.ts";

export const description =
  "A seeded corpus of damaged users CSV files (1,000 quick, 5,000 full; 1..40 rows each, 1..4 random mutations: stray quotes, " +
  "commas, CR/LF/CRLF, cut and truncated rows, U+FFFD/NUL/CJK/emoji, 5 KB fields, BOM, blank lines, huge numbers; 10% with a " +
  "damaged header) goes through `ingest produce` one process per file, every fifth file into Kafka (one topic) and the rest " +
  "with `--no-kafka`, always writing NDJSON, Avro and the rejects file. Per file: no crash (exit 0/1/2, no trace), accepted + " +
  "rejected = rows read, every rejects row has a line number >= 2 and a reason, NDJSON records = Avro records = accepted, and " +
  "with Kafka delivered = accepted; a file refused as a whole must say why (header). At the end the topic must hold exactly " +
  "the sum of what the summaries report delivered (counted with kcat). Lost = reported-delivered rows missing from the topic " +
  "plus accepted rows missing from a file; duplicated = rows beyond that (topic or files).";

export async function run(opts: { quick: boolean; ingest: string; log: (msg: string) => void }): Promise<SoakResult[]> {
  const files = opts.quick ? 1000 : 5000;
  const seed = 4242 + (opts.quick ? 0 : 1);
  const dir = mkdtempSync(join(tmpdir(), "soak-csv-"));
  const topic = `csvfuzz-${Date.now().toString(36)}`;
  const broker = await startChildBroker(opts.ingest, { [topic]: 6 });
  const r = rng(seed);
  const texts = Array.from({ length: files }, () => fuzzCsv(r));
  let rows = 0,
    accepted = 0,
    rejected = 0,
    delivered = 0,
    refused = 0,
    kafkaFiles = 0,
    lost = 0,
    duplicated = 0;
  const failures: string[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const f = next++;
      if (f >= files) return;
      const kafka = f % 5 === 0;
      const base = join(dir, `f${f}`);
      const text = texts[f]!;
      writeFileSync(`${base}.csv`, text);
      const o = { summary: `${base}.sum.json`, json: `${base}.ndjson`, avro: `${base}.avro`, rejects: `${base}.rej.csv` };
      const p = spawn(
        [
          opts.ingest,
          "produce",
          "--file",
          `${base}.csv`,
          "--summary-json",
          o.summary,
          "--json-out",
          o.json,
          "--avro-out",
          o.avro,
          "--avro-codec",
          "null",
          "--rejects",
          o.rejects,
          "--log-level",
          "warn",
          ...(kafka ? ["--topic", topic, "-b", broker.bootstrap] : ["--no-kafka"]),
        ],
        { stdout: "ignore", stderr: "pipe" },
      );
      const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      const c = await checkCsvRun({ text, code, stderr, ...o, kafka });
      rows += c.rows;
      accepted += c.accepted;
      rejected += c.rejected;
      delivered += c.delivered;
      if (kafka) kafkaFiles++;
      if (c.refused) refused++;
      if (c.problems.length) {
        failures.push(`file #${f} (seed ${seed}): ${c.problems.join("; ")}`);
        // Count row-level mismatches where they are measurable from the summary.
        lost += c.problems.filter((x) => /records, accepted|delivered .* != accepted/.test(x)).length;
      }
      rmSync(`${base}.avro`, { force: true });
      rmSync(`${base}.ndjson`, { force: true });
      if ((f + 1) % 200 === 0) opts.log(`csv-fuzz: ${f + 1}/${files} files, ${rows} rows, ${failures.length} failing`);
    }
  };
  try {
    await Promise.all([worker(), worker()]);
    const inTopic = Bun.spawnSync(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q", "-f", "x\n"])
      .stdout.toString()
      .split("\n")
      .filter(Boolean).length;
    if (inTopic < delivered) lost += delivered - inTopic;
    if (inTopic > delivered) duplicated += inTopic - delivered;
    const secs = ((performance.now() - t0) / 1000).toFixed(0);
    const pass = failures.length === 0 && lost === 0 && duplicated === 0;
    const notes =
      `seed ${seed}, ${files} files in ${secs}s (${kafkaFiles} with Kafka); rows read ${rows} = accepted ${accepted} + rejected ${rejected}; ` +
      `files refused whole (damaged header) ${refused}; delivered ${delivered}, topic holds ${inTopic} (kcat)` +
      (failures.length ? `; ${failures.length} failing files, first: ${failures.slice(0, 3).join(" | ")}` : "");
    opts.log(`csv-fuzz: ${pass ? "PASS" : "FAIL"} ${notes}`);
    return [{ scenario: "csv-fuzz", runs: files, records: rows, lost, duplicated, pass, notes }];
  } finally {
    await broker.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
