import { writeSync } from "node:fs";

/** writeSync may write less than asked on pipes; loop until every byte is out. */
export function writeAll(fd: number, s: string | Uint8Array): void {
  let b = typeof s === "string" ? Buffer.from(s) : s;
  while (b.length > 0) {
    try {
      const n = writeSync(fd, b);
      b = b.subarray(n);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      Bun.sleepSync(1);
    }
  }
}
