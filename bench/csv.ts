/**
 * `bun run bench:csv`: ingest's own CSV readers against papaparse (the card's CSV library) on
 * the same generated users file, in one process, alternating, median of the rounds. Every
 * contender hands each record's fields to the caller as strings and the caller reads them all
 * (sums their lengths), so nothing is skipped that a consumer of the rows would need:
 *   papaparse string   Papa.parse of the whole text (what the tests use as an oracle)
 *   papaparse chunked  Papa.parse over 1 MiB chunks with step (streaming, bounded memory)
 *   ingest reader      src/csv/reader.ts forEachRecord (RFC 4180, chunked, line numbers, rejects)
 * and, as produce uses it, the byte-level fast path (src/csv/fast-reader.ts), which gives field
 * offsets into the bytes instead of strings (the row encoder reads the bytes directly).
 *
 *   bun run bench:csv [--rows N] [--rounds R]
 */
import { parseArgs } from "node:util";
import { mkdtempSync, readFileSync, rmSync, openSync, readSync, closeSync, statSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import Papa from "papaparse";
import { writeRows } from "../src/gen/write.ts";
import { userRow, USERS_HEADER } from "../src/gen/users.ts";
import { forEachRecord } from "../src/csv/reader.ts";
import { forEachRecordFast, FAST_DONE } from "../src/csv/fast-reader.ts";
import { readHeader } from "../src/csv/split.ts";

const { values } = parseArgs({
  options: { rows: { type: "string", default: "1000000" }, rounds: { type: "string", default: "5" }, help: { type: "boolean", short: "h" } },
});
if (values.help) {
  console.log("Usage: bun run bench:csv [--rows N (default 1,000,000)] [--rounds R (default 5)]");
  process.exit(0);
}
const rows = Number(values.rows);
const rounds = Number(values.rounds);
const dir = mkdtempSync(join(tmpdir(), "bench-csv-"));
const file = join(dir, "users.csv");
writeRows(file, USERS_HEADER, rows, 42, userRow);
const size = statSync(file).size;
const header = readHeader(file)!;
const columns = header.fields.length;
const range = { start: header.dataStart, end: size, firstLine: header.dataFirstLine };

type Result = { records: number; chars: number };
const contenders: Record<string, () => Result> = {
  "papaparse string": () => {
    const text = readFileSync(file, "utf8");
    let records = 0;
    let chars = 0;
    const data = Papa.parse<string[]>(text, { skipEmptyLines: true }).data;
    for (let i = 1; i < data.length; i++) {
      records++;
      for (const f of data[i]!) chars += f.length;
    }
    return { records, chars };
  },
  "papaparse chunked": () => {
    let records = -1; // the header row
    let chars = 0;
    let carry = "";
    const fd = openSync(file, "r");
    const buf = Buffer.alloc(1 << 20);
    const dec = new TextDecoder();
    const onRow = (r: { data: string[] }) => {
      records++;
      if (records > 0) for (const f of r.data) chars += f.length;
    };
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, null);
        const text = carry + dec.decode(buf.subarray(0, n), { stream: n > 0 });
        // Parse up to the last newline; the rest waits for the next chunk (no quoted newlines here).
        const cut = n > 0 ? text.lastIndexOf("\n") + 1 : text.length;
        carry = text.slice(cut);
        if (cut > 0) Papa.parse<string[]>(text.slice(0, cut), { skipEmptyLines: true, step: onRow });
        if (n === 0) break;
      }
    } finally {
      closeSync(fd);
    }
    return { records, chars };
  },
  "ingest reader": () => {
    let records = 0;
    let chars = 0;
    forEachRecord(file, range, (r) => {
      records++;
      for (const f of r.fields) chars += f.length;
    });
    return { records, chars };
  },
  "ingest fast path (offsets)": () => {
    let records = 0;
    let chars = 0;
    forEachRecordFast(
      file,
      range,
      columns,
      (_b, fs, fe) => {
        records++;
        for (let i = 0; i < columns; i++) chars += fe[i]! - fs[i]!;
        return FAST_DONE;
      },
      (r) => {
        records++;
        for (const f of r.fields) chars += f.length;
      },
    );
    return { records, chars };
  },
};

const times: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
const seen: Record<string, Result> = {};
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(contenders)) {
    Bun.gc(true);
    const t0 = performance.now();
    seen[name] = run();
    times[name]!.push((performance.now() - t0) / 1000);
  }
}
rmSync(dir, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const papa = median(times["papaparse string"]!);
console.log(
  `bench:csv ${new Date().toISOString()} on ${cpus().length} x ${cpus()[0]?.model ?? "?"}: ${rows.toLocaleString()} users, ${(size / 1e6).toFixed(1)} MB, median of ${rounds}`,
);
console.log("| reader | records | seconds | MB/s | rows/s | vs papaparse string |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const name of Object.keys(contenders)) {
  const s = median(times[name]!);
  console.log(
    `| ${name} | ${seen[name]!.records.toLocaleString()} | ${s.toFixed(3)} | ${(size / 1e6 / s).toFixed(0)} | ${Math.round(rows / s).toLocaleString()} | ${(papa / s).toFixed(2)} |`,
  );
}
for (const name of Object.keys(contenders)) {
  if (seen[name]!.records !== rows) console.error(`warning: ${name} saw ${seen[name]!.records} records, expected ${rows}`);
}
