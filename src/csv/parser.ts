/**
 * An RFC 4180 CSV record parser over decoded text, fed chunk by chunk.
 *
 * Fields are separated by ',', records by LF or CRLF; a field in double quotes may hold commas,
 * quotes (doubled) and newlines. Unquoted fields are taken literally (a stray quote inside one is
 * kept, as papaparse does). Every record carries the 1-based line its first character is on.
 * Text after a closing quote other than a separator makes the record malformed (it is reported,
 * not parsed). A record longer than `maxRecordChars` (e.g. an unterminated quote) is reported
 * and parsing resumes on the line after the one it started on, so memory stays bounded.
 *
 * The hot path is `parse`, which hands each record to a callback as one reused `CsvRow` (no
 * object or array per record). A complete line without any quote character, the common case,
 * takes a fast path: its fields are the text between commas, found with cached `indexOf`
 * positions of the next LF, quote and comma (each found once per chunk, not once per field or
 * line). Everything else (quotes anywhere in the line, a line cut by the chunk end) goes through
 * the general record scanner. `push` is the same parser returning record objects.
 */
export class CsvRecord {
  constructor(
    public fields: string[],
    /** Line number of the record's first character. */
    public line: number,
    /** The text the record came from and its span, to recover the raw record for rejects. */
    private readonly text: string,
    private readonly from: number,
    private readonly to: number,
    /** Set when the record could not be parsed: the reason. */
    public error: string | undefined = undefined,
  ) {}

  /** The original text (without its line terminator), truncated to `max` characters. */
  raw(max = 1000): string {
    return rawText(this.text, this.from, this.to, max);
  }
}

/**
 * The record `parse` hands to its callback. The object and its `fields` array are reused for
 * the next record: read them during the callback, copy what must be kept.
 */
export class CsvRow {
  fields: string[] = [];
  /** Line number of the record's first character. */
  line = 0;
  /** Set when the record could not be parsed (or, from the reader, has invalid UTF-8): the reason. */
  error: string | undefined = undefined;
  /** The text the record came from and its span. */
  text = "";
  from = 0;
  to = 0;

  /** The original text (without its line terminator), truncated to `max` characters. */
  raw(max = 1000): string {
    return rawText(this.text, this.from, this.to, max);
  }
}

/** Called with each record; returning false stops parsing after it (see `CsvParser.stopped`). */
export type RowCallback = (row: CsvRow) => boolean | void;

export interface ParseResult {
  records: CsvRecord[];
  /** Empty lines passed over. */
  skipped: number;
}

function rawText(text: string, from: number, to: number, max: number): string {
  const raw = text.slice(from, to).replace(/\r?\n$/, "");
  return raw.length > max ? `${raw.slice(0, max)}...` : raw;
}

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;

export class CsvParser {
  private pending = "";
  /** Line number of the first character of `pending`. */
  private line: number;
  private readonly maxRecordChars: number;
  private readonly fast: boolean;
  private readonly row = new CsvRow();
  /** Text left to parse after an oversized record was reported (see `oversized`). */
  private rest: string | null = null;
  /**
   * True when the last `parse` stopped early because its callback returned false. The parser
   * then holds the text after that record, and a later `parse` carries on from there.
   */
  stopped = false;

  /** `fastPath` false sends every line through the general scanner (for tests comparing the two). */
  constructor(firstLine = 1, maxRecordChars = 16 << 20, fastPath = true) {
    this.line = firstLine;
    this.maxRecordChars = maxRecordChars;
    this.fast = fastPath;
  }

  /**
   * Parse complete records from `text` (appended to what is pending), as record objects. With
   * `final`, whatever remains is the last record (a missing final newline is fine).
   */
  push(text: string, final = false): ParseResult {
    const records: CsvRecord[] = [];
    const skipped = this.parse(text, final, (r) => {
      records.push(new CsvRecord(r.fields.slice(), r.line, r.text, r.from, r.to, r.error));
    });
    return { records, skipped };
  }

  /**
   * Parse complete records from `text` (appended to what is pending), calling `onRow` with each
   * (one reused `CsvRow`). With `final`, whatever remains is the last record. Returns the number
   * of empty lines passed over.
   */
  parse(text: string, final: boolean, onRow: RowCallback): number {
    this.stopped = false;
    let s = this.pending.length ? this.pending + text : text;
    let skipped = 0;
    for (;;) {
      skipped += this.scan(s, final, onRow);
      const rest = this.rest;
      if (rest === null) break;
      this.rest = null;
      if (!rest || this.stopped) break;
      s = rest;
    }
    return skipped;
  }

  private scan(s: string, final: boolean, onRow: RowCallback): number {
    const row = this.row;
    const fields = row.fields;
    row.text = s;
    const fast = this.fast;
    const len = s.length;
    let skipped = 0;
    let pos = 0;
    let line = this.line;
    // Cached positions of the next LF, quote and comma at or after some earlier position; each
    // is refreshed only once the scan has passed it (len: there is none).
    let nl = -1;
    let q = -1;
    let cm = -1;

    outer: while (pos < len) {
      if (nl < pos) {
        nl = s.indexOf("\n", pos);
        if (nl === -1) nl = len;
      }
      if (fast) {
        if (q < pos) {
          q = s.indexOf('"', pos);
          if (q === -1) q = len;
        }
        if (nl < q) {
          // A whole line without a quote: fields are the text between commas.
          let end = nl;
          if (end > pos && s.charCodeAt(end - 1) === CR) end--;
          if (end === pos) {
            // Empty line (LF or CRLF).
            pos = nl + 1;
            line++;
            skipped++;
            continue;
          }
          let n = 0;
          let p = pos;
          for (;;) {
            if (cm < p) {
              cm = s.indexOf(",", p);
              if (cm === -1) cm = len;
            }
            if (cm >= end) break;
            fields[n++] = s.slice(p, cm);
            p = cm + 1;
          }
          fields[n++] = s.slice(p, end);
          if (fields.length !== n) fields.length = n;
          row.line = line;
          row.error = undefined;
          row.from = pos;
          row.to = pos = nl + 1;
          line++;
          if (onRow(row) === false) return this.stop(s, pos, line, skipped);
          continue;
        }
      }

      // The general scanner: one record from `pos`, quoted fields and all.
      const start = pos;
      const startLine = line;
      // Empty line (LF or CRLF).
      const c0 = s.charCodeAt(pos);
      if (c0 === LF || (c0 === CR && s.charCodeAt(pos + 1) === LF)) {
        pos += c0 === LF ? 1 : 2;
        line++;
        skipped++;
        continue;
      }
      if (c0 === CR && pos + 1 === len && !final) break; // CR at the chunk end: wait for its LF
      let n = 0;
      let error: string | undefined;
      for (;;) {
        if (s.charCodeAt(pos) === QUOTE) {
          // Quoted field: find the closing quote, skipping doubled ones.
          let j = pos + 1;
          let value = "";
          let from = j;
          for (;;) {
            const cq = s.indexOf('"', j);
            if (cq === -1) {
              if (!final && len - start <= this.maxRecordChars) {
                pos = start;
                line = startLine;
                break outer; // need more text
              }
              return skipped + this.oversized(s, start, startLine, final, onRow);
            }
            if (s.charCodeAt(cq + 1) === QUOTE) {
              value += s.slice(from, cq + 1);
              j = from = cq + 2;
              continue;
            }
            if (cq + 1 === len && !final) {
              pos = start;
              line = startLine;
              break outer; // can't tell yet whether the quote is doubled
            }
            value = value === "" ? s.slice(from, cq) : value + s.slice(from, cq);
            j = cq + 1;
            break;
          }
          fields[n++] = value;
          if (nl < pos) {
            nl = s.indexOf("\n", pos);
            if (nl === -1) nl = len;
          }
          if (nl < j) line += countLF(s, nl, j); // nl: the first LF at or after the field's start
          pos = j;
          const c = s.charCodeAt(pos);
          if (c === COMMA) {
            pos++;
            continue;
          }
          if (c === LF) {
            pos++;
            line++;
            break;
          }
          if (c === CR && s.charCodeAt(pos + 1) === LF) {
            pos += 2;
            line++;
            break;
          }
          if (pos >= len || (c === CR && pos + 1 >= len)) {
            if (!final) {
              pos = start;
              line = startLine;
              break outer;
            }
            if (pos < len) pos = len; // a lone CR ends the file
            break;
          }
          // Garbage after a closing quote: the record is malformed; skip to its line end.
          error = `unexpected character '${s[pos]}' after a closing quote`;
          const end = s.indexOf("\n", pos);
          if (end === -1 && !final) {
            pos = start;
            line = startLine;
            break outer;
          }
          pos = end === -1 ? len : end + 1;
          line++;
          break;
        } else {
          if (nl < pos) {
            nl = s.indexOf("\n", pos);
            if (nl === -1) nl = len;
          }
          if (cm < pos) {
            cm = s.indexOf(",", pos);
            if (cm === -1) cm = len;
          }
          if (cm < nl) {
            fields[n++] = s.slice(pos, cm);
            pos = cm + 1;
            continue;
          }
          if (nl === len) {
            if (!final) {
              pos = start;
              line = startLine;
              break outer;
            }
            fields[n++] = s.slice(pos, s.charCodeAt(len - 1) === CR ? len - 1 : len);
            pos = len;
            break;
          }
          fields[n++] = s.slice(pos, s.charCodeAt(nl - 1) === CR && nl - 1 >= pos ? nl - 1 : nl);
          pos = nl + 1;
          line++;
          break;
        }
      }
      if (fields.length !== n) fields.length = n;
      row.line = startLine;
      row.error = error;
      row.from = start;
      row.to = pos;
      if (onRow(row) === false) return this.stop(s, pos, line, skipped);
    }
    this.pending = s.slice(pos);
    this.line = line;
    if (final && this.pending.length) {
      // Only reachable for a lone CR at the very end.
      this.pending = "";
    }
    return skipped;
  }

  /** The callback asked to stop: keep the unparsed text for a later `parse`. */
  private stop(s: string, pos: number, line: number, skipped: number): number {
    this.pending = s.slice(pos);
    this.line = line;
    this.stopped = true;
    return skipped;
  }

  /**
   * The record starting at `start` is too long or never closes: report it, and leave the text
   * after its first line in `rest`, where parsing resumes. Returns the empty lines skipped (0).
   */
  private oversized(s: string, start: number, startLine: number, final: boolean, onRow: RowCallback): number {
    const firstLineEnd = s.indexOf("\n", start);
    const reason = final ? "unterminated quoted field" : `record longer than ${this.maxRecordChars} characters (unterminated quote?)`;
    const lineEnd = firstLineEnd === -1 ? Math.min(s.length, start + 1000) : firstLineEnd;
    const row = this.row;
    row.fields.length = 0;
    row.line = startLine;
    row.error = `${reason}; parsing resumes on line ${startLine + 1}`;
    row.from = start;
    row.to = lineEnd;
    this.pending = "";
    this.line = startLine + 1;
    const rest = firstLineEnd === -1 ? "" : s.slice(firstLineEnd + 1);
    if (onRow(row) === false) {
      this.pending = rest;
      this.stopped = true;
      return 0;
    }
    this.rest = rest;
    return 0;
  }

  /** Characters buffered waiting for the rest of a record. */
  get buffered(): number {
    return this.pending.length;
  }

  /** The line number of the next text to parse (the first character of what is pending, if any). */
  get nextLine(): number {
    return this.line;
  }

  /**
   * Continue at `line` with nothing pending: for a reader that parsed the text before this
   * point itself (the byte-level fast path in fast-reader.ts) and hands the parser the rest.
   */
  resetLine(line: number): void {
    if (this.pending.length || this.rest !== null) throw new Error("CsvParser.resetLine with text pending");
    this.line = line;
    this.stopped = false;
  }
}

/** LFs in s[a..b), given that s[a] is one (or a >= b). */
function countLF(s: string, a: number, b: number): number {
  let n = 0;
  for (let i = a; i !== -1 && i < b; i = s.indexOf("\n", i + 1)) n++;
  return n;
}
