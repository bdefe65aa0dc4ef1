import { isUtf8 } from "node:buffer";
import { CsvParser, type RowCallback } from "./parser.ts";
import { lineChunks, type ByteRange } from "./reader.ts";

/**
 * The byte-level fast path of the CSV reader (`ingest produce`): the same records as
 * `forEachRecord`, but a line the fast path is sure about is never decoded to a string. Its
 * fields are found as byte ranges and handed to `fastRow` (which writes the key, JSON and Avro
 * bytes straight from them, see compileFastRowEncoder in src/codecs/row-encoder.ts). Anything
 * else goes, from that line on, through the reference path: the text is decoded and parsed by
 * `CsvParser` and its records handed to `onRow`, exactly as `forEachRecord` would.
 *
 * A line takes the fast path when it ends with LF inside a chunk that is valid UTF-8 (and no
 * record cut by the previous chunk end had invalid bytes), the parser holds nothing pending,
 * it has exactly `columns` fields, and every field is either unquoted without any quote
 * character, or quoted without a line break or anything after its closing quote but a comma or
 * the line end. `fastRow` may still send the line to the reference path
 * (a value it does not accept or is not sure about), and the reference path gives the record's
 * rejection, its reason and raw text. The chunks are the ones `forEachRecord` reads (cut after
 * the last LF of each 1 MiB read), so a record cut by a chunk end, the invalid-UTF-8 marking
 * and record length limits behave exactly as there.
 */

/** What `fastRow` did with a line. */
export const FAST_DONE = 0;
/** `fastRow` did not take the line: it goes through the reference path. */
export const FAST_SLOW = 1;
/** Stop reading (as a row callback returning false). */
export const FAST_STOP = 2;

/**
 * A line's fields as byte ranges of `b`: field k is b[fs[k]..fe[k]), without its enclosing quotes;
 * esc[k] has bit 1 when it holds a byte JSON must escape (a control character or a backslash)
 * and bit 2 when it holds doubled quotes (each pair stands for one quote: the only quotes a
 * field here holds). `line` is its line number. Returns FAST_DONE, FAST_SLOW or FAST_STOP.
 */
export type FastRowFn = (b: Uint8Array, fs: Int32Array, fe: Int32Array, esc: Uint8Array, line: number) => number;

const LF = 10;
const CR = 13;
const QUOTE = 34;
const COMMA = 44;

/** Byte classes for the field scan: 0 plain, 1 comma, 2 quote, 3 escape for JSON. */
const CLASS = new Uint8Array(256);
for (let c = 0; c < 32; c++) CLASS[c] = 3;
CLASS[92] = 3;
CLASS[COMMA] = 1;
CLASS[QUOTE] = 2;

/**
 * Split the line b[s..e) (without its line terminator) into exactly `cols` fields; -1 when it
 * is not a line the fast path takes (see above) or has another number of fields.
 */
export function splitLine(b: Uint8Array, s: number, e: number, cols: number, fs: Int32Array, fe: Int32Array, esc: Uint8Array): number {
  let n = 0;
  let p = s;
  for (;;) {
    if (n === cols) return -1;
    let x = 0;
    let i = p;
    if (p < e && b[p] === QUOTE) {
      // Quoted: up to the quote that ends the field (doubled quotes are kept in the range, flagged 2).
      for (i = p + 1; i < e; i++) {
        const k = CLASS[b[i]!]!;
        if (k >= 2) {
          if (k === 3) x |= 1;
          else if (i + 1 < e && b[i + 1] === QUOTE) {
            x |= 2;
            i++;
          } else break;
        }
      }
      if (i >= e) return -1; // no closing quote on this line
      fs[n] = p + 1;
      fe[n] = i;
      esc[n] = x;
      n++;
      i++;
      if (i === e) return n === cols ? n : -1;
      if (b[i] !== COMMA) return -1; // text after the closing quote
      p = i + 1;
      continue;
    }
    for (; i < e; i++) {
      const k = CLASS[b[i]!]!;
      if (k !== 0) {
        if (k === 1) break;
        if (k === 2) return -1; // a stray quote
        x = 1;
      }
    }
    fs[n] = p;
    fe[n] = i;
    esc[n] = x;
    n++;
    if (i === e) return n === cols ? n : -1;
    p = i + 1;
  }
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

interface FastLinesState {
  /** In: the line number at p; out: at the returned position. */
  line: number;
  /** Out: empty lines passed over. */
  skipped: number;
  /** Out: fastRow returned FAST_STOP. */
  stop: boolean;
}

/**
 * The fast path's inner loop: from p (a line start) over every line of b[p..cut) that ends
 * with LF, that splitLine takes and that fastRow encodes (empty lines are counted and passed
 * over). Returns where it stopped: cut, or the start of a line for the reference path (the
 * last one without LF, or one splitLine or fastRow refused), or of the line fastRow stopped
 * at (st.stop). Apart from forEachRecordFast and its cold paths so that JSC's top tier compiles
 * a small function: the two compiles of the larger one (for its loop's entry and for its
 * calls) took ~110 CPU ms per worker.
 */
function fastLines(
  b: Uint8Array,
  p: number,
  cut: number,
  columns: number,
  fs: Int32Array,
  fe: Int32Array,
  esc: Uint8Array,
  fastRow: FastRowFn,
  st: FastLinesState,
): number {
  let line = st.line;
  while (p < cut) {
    const nl = b.indexOf(LF, p);
    if (nl === -1 || nl >= cut) break;
    let e = nl;
    if (e > p && b[e - 1] === CR) e--;
    if (e === p) {
      st.skipped++;
      line++;
      p = nl + 1;
      continue;
    }
    if (splitLine(b, p, e, columns, fs, fe, esc) !== columns) break;
    const r = fastRow(b, fs, fe, esc, line);
    if (r === FAST_DONE) {
      line++;
      p = nl + 1;
      continue;
    }
    if (r === FAST_STOP) st.stop = true;
    break;
  }
  st.line = line;
  return p;
}

/**
 * Like `forEachRecord` (same records, line numbers, rejects and skipped count, same `onChunk`
 * calls), with lines the fast path takes handed to `fastRow` instead of `onRow`.
 */
export function forEachRecordFast(
  path: string,
  range: ByteRange,
  columns: number,
  fastRow: FastRowFn,
  onRow: RowCallback,
  onChunk?: (bytesRead: number) => boolean | void,
  chunkBytes = 1 << 20,
): number {
  const parser = new CsvParser(range.firstLine);
  const maxChars = 16 << 20; // CsvParser's default record bound
  const markInvalid: RowCallback = (r) => {
    if (!r.error && r.fields.some((f) => f.includes("\uFFFD"))) r.error = "invalid UTF-8 bytes";
    return onRow(r);
  };
  const fs = new Int32Array(columns + 1);
  const fe = new Int32Array(columns + 1);
  const esc = new Uint8Array(columns + 1);
  let skipped = 0;
  let pendingInvalid = false;
  let line = range.firstLine;
  let stopped = false;
  const st: FastLinesState = { line: 0, skipped: 0, stop: false };

  for (const chunk of lineChunks(path, range, chunkBytes)) {
    const { buf: b, start: base, end: cut, eof } = chunk;
    const valid = !pendingInvalid && isUtf8(b.subarray(base, cut));
    if (!valid) {
      // The reference path for the whole chunk, as forEachRecord reads it.
      let text: string;
      let invalid = false;
      try {
        text = fatalUtf8.decode(b.subarray(base, cut));
      } catch {
        text = lenientUtf8.decode(b.subarray(base, cut));
        invalid = true;
      }
      if (parser.buffered === 0) parser.resetLine(line);
      skipped += parser.parse(text, eof, invalid || pendingInvalid ? markInvalid : onRow);
      pendingInvalid = (invalid || pendingInvalid) && parser.buffered > 0;
      line = parser.nextLine;
      if (parser.stopped) break;
    } else {
      // Text from byte p on through the parser: the line at p first, the rest of the chunk
      // if its record goes on. Returns where the fast path resumes (the chunk end if the
      // parser still holds a record). A piece that ends before the chunk end is kept short
      // enough that the parser cannot find a record too long there (it would be reported
      // only at the chunk end, as forEachRecord does).
      const slow = (p: number): number => {
        if (parser.buffered === 0) parser.resetLine(line);
        let end = b.indexOf(LF, p);
        end = end === -1 || end >= cut ? cut : end + 1;
        for (;;) {
          if (end < cut && parser.buffered + (end - p) > maxChars) end = cut;
          skipped += parser.parse(fatalUtf8.decode(b.subarray(p, end)), eof && end === cut, onRow);
          p = end;
          if (parser.stopped) {
            stopped = true;
            return cut;
          }
          if (parser.buffered === 0 || p === cut) break;
          end = cut;
        }
        line = parser.nextLine;
        return p;
      };
      let p = base;
      if (parser.buffered > 0) p = slow(p);
      while (p < cut && !stopped) {
        st.line = line;
        st.skipped = 0;
        p = fastLines(b, p, cut, columns, fs, fe, esc, fastRow, st);
        line = st.line;
        skipped += st.skipped;
        if (st.stop) {
          stopped = true;
          break;
        }
        if (p < cut) p = slow(p); // a line the fast path did not take, or the last one without LF
      }
      pendingInvalid = false;
      if (stopped) break;
    }
    if (onChunk?.(chunk.bytesRead) === false) break;
  }
  return skipped;
}
