/**
 * PartJoiner (src/produce/join.ts): the workers' output parts become one file in input order,
 * joined while the workers still write (part 0 renamed once its worker is done, the next parts
 * appended as they grow). Driven here by hand: parts grow between steps, workers finish in
 * either order, parts are empty, and the result must be the plain in-order join.
 */
import { test, expect } from "bun:test";
import { lstatSync, mkdtempSync, mkdirSync, writeFileSync, appendFileSync, readFileSync, existsSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { output, PartJoiner } from "../../src/produce/join.ts";

const dir = mkdtempSync(join(tmpdir(), "ingest-join-"));

/**
 * Parts' contents, each written in pieces; `order` is the order workers finish in. Between any
 * two events the joiner takes a step with a small budget. Returns the joined file.
 */
function run(name: string, pieces: string[][], order: number[], sep: string, suffix: string, budget = 7, direct = true): string {
  const path = join(dir, name);
  if (!direct) {
    // A symlink to a file: written through (the link stays), the parts in a directory of their own.
    writeFileSync(`${path}.target`, "an older file, replaced");
    symlinkSync(`${path}.target`, path);
  }
  const out = output(path, () => (mkdirSync(`${path}.tmp`, { recursive: true }), `${path}.tmp`));
  expect(out.direct).toBe(direct);
  if (direct) writeFileSync(out.path, "an older file, replaced");
  const done = pieces.map(() => false);
  const j = new PartJoiner(out, pieces.length, sep);
  const step = () =>
    j.step(
      (i) => done[i]!,
      () => pieces[0]!.join("").length > 2,
      () => true,
      budget,
    );
  // Every part is created empty first (as the workers open them), then grows piece by piece.
  pieces.forEach((_, i) => writeFileSync(out.part(i), ""));
  const longest = Math.max(...pieces.map((p) => p.length));
  for (let k = 0; k < longest; k++) {
    for (let i = 0; i < pieces.length; i++) {
      if (k < pieces[i]!.length) appendFileSync(out.part(i), pieces[i]![k]!);
      step();
    }
  }
  for (const w of order) {
    done[w] = true;
    // Written through: stepped only once every worker is done (as run.ts does).
    if (direct || order.every((x) => done[x])) step();
  }
  while (
    !j.step(
      (i) => done[i]!,
      () => pieces[0]!.join("").length > 2,
      () => true,
      budget,
    )
  ) {}
  j.finish(suffix);
  return readFileSync(out.path, "utf8");
}

/** The plain in-order join: non-empty parts past 0, separated; part 0 counts as empty when it holds only the prefix "[\n". */
function expected(pieces: string[][], sep: string, suffix: string): string {
  const parts = pieces.map((p) => p.join(""));
  let s = parts[0]!;
  let n = parts[0]!.length > 2 ? 1 : 0;
  for (const p of parts.slice(1)) {
    if (!p) continue;
    if (n++ > 0) s += sep;
    s += p;
  }
  return s + suffix;
}

const cases: [string, string[][], number[]][] = [
  [
    "two parts, worker 0 first",
    [
      ["[\n", '{"a":1}', ',\n{"a":2}'],
      ['{"a":3}', ',\n{"a":4}', ',\n{"a":5}'],
    ],
    [0, 1],
  ],
  [
    "two parts, worker 1 first",
    [
      ["[\n", '{"a":1}'],
      ['{"a":2}', ',\n{"a":3}'],
    ],
    [1, 0],
  ],
  ["an empty middle part", [["[\n", '{"a":1}'], [], ['{"a":2}']], [2, 0, 1]],
  ["part 0 without records", [["[\n"], ['{"a":1}'], ['{"a":2}', ',\n{"a":3}']], [0, 2, 1]],
  ["only the last part has records", [["[\n"], [], ['{"a":1}']], [1, 2, 0]],
  ["no records at all", [["[\n"], [], []], [0, 1, 2]],
  ["four parts, long pieces", [["[\n", "x".repeat(40)], ["y".repeat(33), "z".repeat(50)], ["w".repeat(17)], ["v".repeat(90)]], [3, 1, 0, 2]],
];

for (const [name, pieces, order] of cases) {
  test(`${name}: the file is the parts joined in input order, the parts are removed`, () => {
    const file = name.replace(/\W+/g, "-");
    expect(run(file, pieces, order, ",\n", "\n]\n")).toBe(expected(pieces, ",\n", "\n]\n"));
    expect(readdirSync(dir).filter((f) => f.startsWith(`${file}.part`))).toEqual([]);
    // And without a separator (Avro blocks), with a budget that copies everything at once.
    expect(run(`${file}-nosep`, pieces, order, "", "", Infinity)).toBe(expected(pieces, "", ""));
    // And written through a symlink: part 0 copied too, the link left a link.
    expect(run(`${file}-link`, pieces, order, ",\n", "\n]\n", 7, false)).toBe(expected(pieces, ",\n", "\n]\n"));
    expect(lstatSync(join(dir, `${file}-link`)).isSymbolicLink()).toBe(true);
    expect(readdirSync(join(dir, `${file}-link.tmp`))).toEqual([]);
  });
}

test("a part that grows while it is being copied is copied whole, once", () => {
  const out = output(join(dir, "growing"), () => dir);
  writeFileSync(out.part(0), "[\nA");
  writeFileSync(out.part(1), "");
  const done = [true, false];
  const j = new PartJoiner(out, 2, ",");
  const step = () =>
    j.step(
      (i) => done[i]!,
      () => true,
      () => true,
      3,
    );
  expect(step()).toBe(false);
  expect(existsSync(out.part(0))).toBe(false); // part 0 became the file
  for (const piece of ["bcdefg", "hij", "", "klmnopq"]) {
    appendFileSync(out.part(1), piece);
    expect(step()).toBe(false);
  }
  done[1] = true;
  while (!step()) {}
  j.finish("]");
  expect(readFileSync(out.path, "utf8")).toBe("[\nA,bcdefghijklmnopq]");
});

test("a part file found before its worker created it (left by a run that died) is not read", () => {
  const out = output(join(dir, "stale"), () => dir);
  writeFileSync(out.part(0), "[\nA");
  writeFileSync(out.part(1), "STALE BYTES FROM AN EARLIER RUN");
  const done = [true, false];
  const opened = [true, false];
  const j = new PartJoiner(out, 2, ",");
  const step = () =>
    j.step(
      (i) => done[i]!,
      () => true,
      (i) => opened[i]!,
      1 << 20,
    );
  expect(step()).toBe(false);
  expect(step()).toBe(false);
  // The worker now creates its part (truncating the stale one) and writes.
  writeFileSync(out.part(1), "B");
  opened[1] = true;
  expect(step()).toBe(false);
  appendFileSync(out.part(1), "C");
  done[1] = true;
  expect(step()).toBe(true);
  j.finish("]");
  expect(readFileSync(out.path, "utf8")).toBe("[\nA,BC]");
});
