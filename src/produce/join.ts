import { openSync, closeSync, rmSync, readSync, fstatSync, renameSync, lstatSync } from "node:fs";
import { basename, join } from "node:path";
import { writeAll } from "../core/write-all.ts";

/**
 * The produce workers' output parts and how they become the output files, in input order.
 *
 * An output file and where the workers' parts of it go. When the path is a regular file or does
 * not exist yet (`direct`), the parts lie next to it and part 0 becomes the file by rename (no
 * copy). Anything else (a FIFO, a device such as /dev/null, a symlink such as /dev/stdout) is
 * written through, as a shell's `>` would, with the parts in a temporary directory: renaming
 * over it would replace the FIFO, device or link itself.
 */
export interface Output {
  path: string;
  direct: boolean;
  part(i: number): string;
}

export function output(path: string, tmp: () => string): Output {
  let direct = true;
  try {
    direct = lstatSync(path).isFile();
  } catch {
    // absent: created by the rename (the command checked that its directory exists)
  }
  const base = direct ? path : join(tmp(), basename(path));
  return { path, direct, part: (i) => `${base}.part${i}` };
}

/** At most this much is copied per step, so one step never holds the main thread for long. */
const STEP_BYTES = 16 << 20;

/**
 * Joins the parts of one output in input order. Parts hold records separated, not terminated:
 * `sep` goes between non-empty parts (a part past 0 holds bytes only when it holds records),
 * the suffix at the end. A direct output is joined while the workers still write: once worker 0
 * is done its part becomes the file (renamed), then each next part is appended as it grows, and
 * its rest once its worker is done; the copy thus runs on the main thread while a worker is
 * still busy (on 2 cores, in the time worker 0's core would idle) instead of after the last
 * worker (at 10M rows it was a 3.2 s stage of its own). Any other output (a FIFO, a device, a
 * symlink) is written through, part 0 copied too: step it once the workers are done, so that
 * opening it (a FIFO waits for its reader) happens where it always did.
 */
export class PartJoiner {
  private fd: number | null = null;
  /** The part being copied, its descriptor once open, and how much of it is copied. */
  private cur = 0;
  private pfd: number | null = null;
  private pos = 0;
  /** Non-empty parts written so far (the separator goes before every one but the first). */
  private parts = 0;
  private readonly buf = new Uint8Array(4 << 20);

  constructor(
    readonly out: Output,
    private readonly n: number,
    private readonly sep: string,
  ) {}

  /**
   * Copy what is there to copy. `done(i)` tells whether worker i finished (its part is then
   * complete), `opened(i)` whether it created its part (a file found before that could be one
   * an earlier run left), and `nonEmpty0` whether part 0 holds records (asked once worker 0 is
   * done). Returns true when every part is in.
   */
  step(done: (i: number) => boolean, nonEmpty0: () => boolean, opened: (i: number) => boolean, budget = STEP_BYTES): boolean {
    if (this.fd === null) {
      if (!done(0)) return false;
      if (this.out.direct) {
        // Unlinked first: ext4 writes a file renamed over an existing one out to disk at once
        // (auto_da_alloc), which made the join 2-3x slower (0.10-0.19 s vs 0.05-0.06 s for 1M users).
        rmSync(this.out.path, { force: true });
        renameSync(this.out.part(0), this.out.path);
        this.fd = openSync(this.out.path, "a");
        this.cur = 1;
      } else this.fd = openSync(this.out.path, "w");
      this.parts = nonEmpty0() ? 1 : 0;
    }
    while (this.cur < this.n) {
      // Whether the worker is done, asked before the size: a done worker's size is final.
      const finished = done(this.cur);
      if (this.pfd === null) {
        if (!finished && !opened(this.cur)) return false;
        try {
          this.pfd = openSync(this.out.part(this.cur), "r");
        } catch (e) {
          if (!finished) return false; // the worker has not created it yet
          throw e;
        }
      }
      // Bytes below the size a writer has reached are written: copy up to it.
      const size = fstatSync(this.pfd).size;
      while (this.pos < size && budget > 0) {
        // Part 0 (copied when written through) starts with the prefix and is counted already.
        if (this.cur > 0 && this.pos === 0 && this.parts++ > 0 && this.sep) writeAll(this.fd, this.sep);
        const k = readSync(this.pfd, this.buf, 0, Math.min(this.buf.length, size - this.pos), this.pos);
        if (k <= 0) throw new Error(`${this.out.part(this.cur)}: shorter than its size`);
        writeAll(this.fd, this.buf.subarray(0, k));
        this.pos += k;
        budget -= k;
      }
      if (!finished || this.pos < size) return false;
      closeSync(this.pfd);
      this.pfd = null;
      rmSync(this.out.part(this.cur), { force: true });
      this.cur++;
      this.pos = 0;
    }
    return true;
  }

  /** After every part is in: the suffix, and the file is closed. */
  finish(suffix: string): void {
    try {
      writeAll(this.fd!, suffix);
    } finally {
      this.close();
    }
  }

  /** Close what is open (also when the run failed). */
  close(): void {
    if (this.pfd !== null) closeSync(this.pfd);
    if (this.fd !== null) closeSync(this.fd);
    this.pfd = this.fd = null;
  }
}

/** Append the file `p` to `fd` and remove it. Streams through a fixed buffer. */
function copyInto(fd: number, p: string): void {
  const buf = new Uint8Array(4 << 20);
  const pfd = openSync(p, "r");
  try {
    const size = fstatSync(pfd).size;
    for (let pos = 0; pos < size; ) {
      const k = readSync(pfd, buf, 0, buf.length, pos);
      if (k <= 0) break;
      writeAll(fd, buf.subarray(0, k));
      pos += k;
    }
  } finally {
    closeSync(pfd);
    rmSync(p, { force: true });
  }
}

/** Write `prefix` then the parts 0..n-1 of `out` into `out`; remove the parts. */
export function assemble(out: Output, n: number, prefix: string): void {
  if (out.direct) rmSync(out.path, { force: true }); // as in PartJoiner: a new file, not a truncated one
  const fd = openSync(out.path, "w");
  try {
    writeAll(fd, prefix);
    for (let i = 0; i < n; i++) copyInto(fd, out.part(i));
  } finally {
    closeSync(fd);
  }
}
