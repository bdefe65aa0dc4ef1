/**
 * A seeded corpus of damaged CSV files, and the check that one `ingest produce` run over such a
 * file adds up. Shared by test/integration/reliability-produce.test.ts and scripts/soak/csv-fuzz.ts.
 */
import { readFileSync, existsSync } from "node:fs";
import { inflateRawSync } from "node:zlib";
import Papa from "papaparse";
import avro from "avsc";
import { USERS_HEADER, userRow } from "../../src/gen/users.ts";

/** Mutate a valid CSV text at random: the kinds of damage real files carry. */
export function mutate(r: () => number, text: string): string {
  const ops = [
    (t: string, i: number) => t.slice(0, i) + '"' + t.slice(i),
    (t: string, i: number) => t.slice(0, i) + "," + t.slice(i),
    (t: string, i: number) => t.slice(0, i) + "\n" + t.slice(i),
    (t: string, i: number) => t.slice(0, i) + "\r\n" + t.slice(i),
    (t: string, i: number) => t.slice(0, i) + t.slice(i + 1 + Math.floor(r() * 20)),
    (t: string, i: number) => t.slice(0, i) + "\uFFFD\u0000é中😀" + t.slice(i),
    (t: string, i: number) => t.slice(0, i) + "x".repeat(Math.floor(r() * 5000)) + t.slice(i),
    (t: string) => "\uFEFF" + t,
    (t: string, i: number) => t.slice(0, i),
    (t: string, i: number) => t.slice(0, i) + "\r" + t.slice(i),
    (t: string, i: number) => t.slice(0, i) + "\n\n\n" + t.slice(i),
    (t: string, i: number) => t.slice(0, i) + "-99999999999999999999" + t.slice(i),
  ];
  let out = text;
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) out = ops[Math.floor(r() * ops.length)]!(out, Math.floor(r() * out.length));
  return out;
}

/** One damaged users CSV: 1..40 rows; the header is kept intact in 90% of files so rows get exercised. */
export function fuzzCsv(r: () => number): string {
  let body = "";
  const n = 1 + Math.floor(r() * 40);
  for (let i = 1; i <= n; i++) body += userRow(r, i) + "\n";
  return r() < 0.9 ? USERS_HEADER + "\n" + mutate(r, body) : mutate(r, USERS_HEADER + "\n" + body);
}

/** Records in an Avro object container file (null or deflate codec). */
export async function countAvro(path: string): Promise<number> {
  let n = 0;
  const codecs = {
    null: (b: Buffer, cb: (e: Error | null, b?: Buffer) => void) => cb(null, b),
    deflate: (b: Buffer, cb: (e: Error | null, b?: Buffer) => void) => cb(null, inflateRawSync(b)),
  };
  await new Promise<void>((resolve, reject) => {
    avro
      .createFileDecoder(path, { codecs } as never)
      .on("data", () => n++)
      .on("end", resolve)
      .on("error", reject);
  });
  return n;
}

export interface CsvRunCheck {
  /** Problems found; empty when the run adds up. */
  problems: string[];
  /** True when the file was refused as a whole (bad header): exit 1/2 with a message, no output. */
  refused: boolean;
  rows: number;
  accepted: number;
  rejected: number;
  delivered: number;
}

/**
 * Check one finished `ingest produce --summary-json S --json-out J(.ndjson) --avro-out A --rejects R`
 * run: accepted + rejected = rows read, rows read fit in the file's lines, every rejects line has a
 * line number >= 2, JSON records == Avro records == accepted, and with Kafka delivered == accepted.
 */
export async function checkCsvRun(p: {
  text: string;
  code: number;
  stderr: string;
  summary: string;
  json: string;
  avro: string;
  rejects: string;
  kafka: boolean;
}): Promise<CsvRunCheck> {
  const problems: string[] = [];
  const res: CsvRunCheck = { problems, refused: false, rows: 0, accepted: 0, rejected: 0, delivered: 0 };
  if (p.code !== 0 && p.code !== 1 && p.code !== 2) problems.push(`exit code ${p.code} (crash or signal)`);
  if (/panic|Segmentation|SIGSEGV|at .*\.ts:\d+/.test(p.stderr)) problems.push(`crash trace on stderr: ${p.stderr.slice(0, 300)}`);
  if (!existsSync(p.summary)) {
    // Refused before reading rows: must say why, and be a usage/input error, not a crash.
    res.refused = true;
    if (p.code === 0) problems.push("exit 0 without a summary");
    if (!/header|column|empty|schema|field/i.test(p.stderr)) problems.push(`refused without a clear reason: ${p.stderr.slice(0, 300)}`);
    return res;
  }
  const s = JSON.parse(readFileSync(p.summary, "utf8"));
  res.rows = s.rows_read;
  res.accepted = s.rows_accepted;
  res.rejected = s.rows_rejected;
  res.delivered = s.messages_delivered;
  if (s.rows_read !== s.rows_accepted + s.rows_rejected) problems.push(`rows ${s.rows_read} != accepted ${s.rows_accepted} + rejected ${s.rows_rejected}`);
  const physicalLines = p.text.split(/\r\n|\n|\r/).length;
  if (s.rows_read + s.empty_lines_skipped > physicalLines)
    problems.push(`rows ${s.rows_read} + empty ${s.empty_lines_skipped} > ${physicalLines} lines in the file`);
  const rej = existsSync(p.rejects) ? Papa.parse<string[]>(readFileSync(p.rejects, "utf8"), { skipEmptyLines: true }).data : [];
  // The rejects file may carry a header row (line,reason,raw).
  const rejRows = rej.filter((row) => row[0] !== "line");
  if (rejRows.length !== s.rows_rejected) problems.push(`rejects file has ${rejRows.length} rows, summary says ${s.rows_rejected}`);
  for (const row of rejRows)
    if (!(Number(row[0]) >= 2) || !row[1]) problems.push(`rejects row without a line number >= 2 and a reason: ${JSON.stringify(row).slice(0, 200)}`);
  const jsonRecords = existsSync(p.json) ? readFileSync(p.json, "utf8").split("\n").filter(Boolean).length : 0;
  if (jsonRecords !== s.rows_accepted) problems.push(`JSON file has ${jsonRecords} records, accepted ${s.rows_accepted}`);
  if (s.json_records !== null && s.json_records !== jsonRecords) problems.push(`summary json_records ${s.json_records} != ${jsonRecords} in the file`);
  const avroRecords = existsSync(p.avro) ? await countAvro(p.avro) : 0;
  if (avroRecords !== s.rows_accepted) problems.push(`Avro file has ${avroRecords} records, accepted ${s.rows_accepted}`);
  if (p.kafka) {
    if (s.messages_delivered !== s.rows_accepted) problems.push(`delivered ${s.messages_delivered} != accepted ${s.rows_accepted}`);
    if (s.messages_failed !== 0) problems.push(`${s.messages_failed} failed deliveries`);
  } else if (s.messages_delivered !== 0) problems.push("--no-kafka delivered messages");
  if ((p.code === 0) !== Boolean(s.ok)) problems.push(`exit ${p.code} but ok=${s.ok}`);
  return res;
}
