import { openSync, closeSync } from "node:fs";
import { rng } from "./random.ts";
import { Progress } from "../observability/progress.ts";
import { IngestError } from "../core/errors.ts";
import { writeAll } from "../core/write-all.ts";

/** An open or write failure of --out as one line naming the file (EACCES, EPIPE, ENOSPC, ...). */
function outError(out: string, e: unknown): IngestError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === "EPIPE" ? "the reader closed the pipe (EPIPE)" : (code ?? (e as Error).message);
  return new IngestError(`--out: cannot write ${out === "-" ? "standard output" : out}: ${why}`);
}

/**
 * Write HEADER then `rows` rows made by `row(r, i)` (i from 1) to `out` ("-" = stdout), in
 * ~1 MiB writes so 1M rows take well under a second and memory stays flat.
 */
export function writeRows(out: string, header: string, rows: number, seed: number, row: (r: () => number, i: number) => string): void {
  const r = rng(seed);
  let fd = 1;
  try {
    if (out !== "-") fd = openSync(out, "w");
  } catch (e) {
    throw outError(out, e);
  }
  const progress = new Progress(`gen ${out}`, rows, "rows", out !== "-" && process.stderr.isTTY === true);
  try {
    let buf = `${header}\n`;
    for (let i = 1; i <= rows; i++) {
      buf += row(r, i) + "\n";
      if (buf.length > 1 << 20) {
        writeAll(fd, buf);
        buf = "";
        progress.update(i);
      }
    }
    if (buf) writeAll(fd, buf);
  } catch (e) {
    throw (e as NodeJS.ErrnoException).code ? outError(out, e) : e; // a write failed; anything else is a bug
  } finally {
    progress.done();
    if (fd !== 1) closeSync(fd);
  }
}
