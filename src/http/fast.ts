/**
 * The hot routes' fast path: one pass over the request body's bytes that parses, validates and
 * writes each order's Kafka key and value straight into a byte buffer, with no JSON.parse, no
 * order objects and no per-order strings.
 *
 * It accepts only what it fully understands: a body that is (an array of) plain valid orders,
 * ASCII, no escapes, numbers in plain form. Anything else (a bad field, an escape, a duplicate or
 * unknown key, an exponent, a number given as an id, a BOM...) makes it answer "not mine", and the
 * caller runs the general path (JSON.parse + checkOrderRequest + orderJson), which then gives the same
 * answer it always did, errors included. So on success the bytes must equal that path's
 * key + orderJson() output exactly (test/unit/serve-fast.test.ts checks it over many generated orders).
 */

const ID_MAX = 64;
/** [A-Za-z0-9._:-]: the characters ID_RE in validate.ts allows. */
const ID_CHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const ch = String.fromCharCode(c);
  if (/^[A-Za-z0-9._:-]$/.test(ch)) ID_CHAR[c] = 1;
}
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const K_CUSTOMER = ascii("customer_id");
const K_PRODUCT = ascii("product_id");
const K_QUANTITY = ascii("quantity");
const K_AMOUNT = ascii("amount");
const K_CURRENCY = ascii("currency");
const P_ORDER_ID = ascii('{"order_id":"');
const P_CUSTOMER = ascii('","customer_id":"');
const P_PRODUCT = ascii('","product_id":"');
const P_QUANTITY = ascii('","quantity":');
const P_AMOUNT = ascii(',"amount":');
const P_CURRENCY = ascii(',"currency":"');
const USD = ascii("USD");
const UUID_LEN = 36;

/** Hex digits of every byte value, two ASCII codes each. */
const HEX2 = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  HEX2[2 * b] = "0123456789abcdef".charCodeAt(b >> 4);
  HEX2[2 * b + 1] = "0123456789abcdef".charCodeAt(b & 15);
}

/**
 * UUIDv7 as Bun.randomUUIDv7 makes them (48-bit millisecond time, version 7, a 12-bit counter
 * that restarts at a random value each millisecond, variant 10, 62 random bits), written as 36
 * ASCII bytes. Random bytes come from crypto.getRandomValues in bulk. Strictly increasing within
 * the process: past 4096 ids in one millisecond the time field moves on by one.
 */
export class Uuid7 {
  private lastMs = -1;
  private counter = 0;
  private readonly tsHex = new Uint8Array(12);
  private readonly pool = new Uint8Array(8192);
  private pos = 8192;
  private readonly one = new Uint8Array(UUID_LEN);

  private random(n: number): number {
    if (this.pos + n > this.pool.length) {
      crypto.getRandomValues(this.pool);
      this.pos = 0;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private setTime(ms: number): void {
    this.lastMs = ms;
    const r = this.random(2);
    this.counter = ((this.pool[r]! << 8) | this.pool[r + 1]!) & 0x7ff; // lower half: room to count
    const hi = Math.floor(ms / 0x1000000);
    const lo = ms - hi * 0x1000000;
    const t = this.tsHex;
    for (let i = 5, v = hi; i >= 0; i--, v >>>= 4) t[i] = HEX2[2 * (v & 15) + 1]!;
    for (let i = 11, v = lo; i >= 6; i--, v >>>= 4) t[i] = HEX2[2 * (v & 15) + 1]!;
  }

  /** Write one id at out[off..off+36), for time `now` (ms). */
  write(out: Uint8Array, off: number, now: number): void {
    if (now > this.lastMs) this.setTime(now);
    else if (++this.counter > 0xfff) this.setTime(this.lastMs + 1);
    const t = this.tsHex;
    for (let i = 0; i < 8; i++) out[off + i] = t[i]!;
    out[off + 8] = 45;
    for (let i = 0; i < 4; i++) out[off + 9 + i] = t[8 + i]!;
    out[off + 13] = 45;
    const c = this.counter;
    out[off + 14] = 55; // '7'
    out[off + 15] = HEX2[2 * (c >> 8) + 1]!;
    out[off + 16] = HEX2[2 * (c & 0xff)]!;
    out[off + 17] = HEX2[2 * (c & 0xff) + 1]!;
    out[off + 18] = 45;
    const p = this.pool;
    const r = this.random(8);
    let h = 2 * ((p[r]! & 0x3f) | 0x80);
    out[off + 19] = HEX2[h]!;
    out[off + 20] = HEX2[h + 1]!;
    h = 2 * p[r + 1]!;
    out[off + 21] = HEX2[h]!;
    out[off + 22] = HEX2[h + 1]!;
    out[off + 23] = 45;
    for (let i = 2, o = off + 24; i < 8; i++, o += 2) {
      h = 2 * p[r + i]!;
      out[o] = HEX2[h]!;
      out[o + 1] = HEX2[h + 1]!;
    }
  }

  /** One id as a string (the general path). */
  string(now = Date.now()): string {
    this.write(this.one, 0, now);
    return String.fromCharCode.apply(null, this.one as unknown as number[]);
  }
}

/** A byte string of `n` ASCII codes at b[off..]. */
export function asciiAt(b: Uint8Array, off: number, n: number): string {
  return String.fromCharCode.apply(null, b.subarray(off, off + n) as unknown as number[]);
}

const isWs = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/** b[o..o+n) = src[from..from+n); returns o + n. */
function put(b: Uint8Array, o: number, src: Uint8Array, from: number, n: number): number {
  for (let j = 0; j < n; j++) b[o + j] = src[from + j]!;
  return o + n;
}

function keyIs(s: Uint8Array, p: number, k: Uint8Array): boolean {
  for (let i = 0; i < k.length; i++) if (s[p + i] !== k[i]) return false;
  return true;
}

/**
 * Encodes requests' orders as Kafka messages: `buf` holds, per order, its key (customer_id) then
 * its value (the order JSON); `spans` has keyOff, keyLen, valOff, valLen per order; `ids` the
 * order ids, 36 ASCII bytes each. Reused across requests: the caller copies out what it keeps
 * before the next encode().
 */
export class OrderEncoder {
  buf = new Uint8Array(1 << 16);
  spans = new Int32Array(4 * 256);
  ids = new Uint8Array(UUID_LEN * 256);
  readonly uuid = new Uuid7();
  private createdAt = new Uint8Array(0);
  private createdAtMs = -1;

  private grow(count: number, used: number): void {
    if (used + 1024 > this.buf.length) {
      const b = new Uint8Array(this.buf.length * 2);
      b.set(this.buf.subarray(0, used));
      this.buf = b;
    }
    if (4 * count + 4 > this.spans.length) {
      const s = new Int32Array(this.spans.length * 2);
      s.set(this.spans);
      this.spans = s;
    }
    if (UUID_LEN * (count + 1) > this.ids.length) {
      const d = new Uint8Array(this.ids.length * 2);
      d.set(this.ids);
      this.ids = d;
    }
  }

  /**
   * Parse, validate and encode `s`: one order object (`single`) or a non-empty array of at most
   * `maxCount` orders. Returns how many orders were encoded, or -1 when the general path must
   * decide (invalid, or valid in a form this does not handle).
   */
  encode(s: Uint8Array, single: boolean, maxCount: number, now: number): number {
    if (now !== this.createdAtMs) {
      this.createdAtMs = now;
      this.createdAt = ascii(`","created_at":${now}}`);
    }
    const len = s.length;
    let p = 0;
    while (p < len && isWs(s[p]!)) p++;
    let count = 0;
    let used = 0;
    if (single) {
      if (s[p] !== 123) return -1;
      this.grow(0, 0);
      used = this.order(s, p + 1, 0, 0, now);
      if (used < 0) return -1;
      p = this.end;
      count = 1;
    } else {
      if (s[p] !== 91) return -1; // [
      p++;
      for (;;) {
        while (p < len && isWs(s[p]!)) p++;
        if (s[p] !== 123 || count >= maxCount) return -1; // empty array, not an object, too many
        this.grow(count, used);
        used = this.order(s, p + 1, count, used, now);
        if (used < 0) return -1;
        count++;
        p = this.end;
        while (p < len && isWs(s[p]!)) p++;
        const c = s[p];
        p++;
        if (c === 44) continue; // ,
        if (c === 93) break; // ]
        return -1;
      }
    }
    while (p < len && isWs(s[p]!)) p++;
    return p === len ? count : -1;
  }

  /** Where order() stopped: just past the object's closing brace. */
  private end = 0;

  /**
   * One order object from s[p] (just past its "{"): validate, then write message `i` at
   * buf[used..]. Returns the new `used`, or -1.
   */
  private order(s: Uint8Array, p: number, i: number, used: number, now: number): number {
    const len = s.length;
    let seen = 0;
    let cS = 0,
      cE = 0,
      pS = 0,
      pE = 0,
      qS = 0,
      qE = 0,
      aS = 0,
      aI = 0,
      aF = 0,
      curS = -1;
    for (;;) {
      while (p < len && isWs(s[p]!)) p++;
      if (s[p] !== 34) return -1; // a key; "{}" and trailing commas are the general path's
      const k = p + 1;
      let e = k;
      while (e < len && s[e] !== 34 && s[e] !== 92) e++;
      if (s[e] !== 34) return -1;
      const klen = e - k;
      let field: number;
      if (klen === 11 && keyIs(s, k, K_CUSTOMER)) field = 1;
      else if (klen === 10 && keyIs(s, k, K_PRODUCT)) field = 2;
      else if (klen === 8 && keyIs(s, k, K_QUANTITY)) field = 4;
      else if (klen === 6 && keyIs(s, k, K_AMOUNT)) field = 8;
      else if (klen === 8 && keyIs(s, k, K_CURRENCY)) field = 16;
      else return -1;
      if (seen & field) return -1; // a repeated key: JSON.parse keeps the last one
      seen |= field;
      p = e + 1;
      while (p < len && isWs(s[p]!)) p++;
      if (s[p] !== 58) return -1; // :
      p++;
      while (p < len && isWs(s[p]!)) p++;
      if (field <= 2) {
        if (s[p] !== 34) return -1;
        const vs = p + 1;
        let ve = vs;
        while (ve < len && ID_CHAR[s[ve]!] === 1) ve++;
        if (s[ve] !== 34 || ve === vs || ve - vs > ID_MAX) return -1;
        if (field === 1) (cS = vs), (cE = ve);
        else (pS = vs), (pE = ve);
        p = ve + 1;
      } else if (field === 4) {
        // quantity: 1..1000000 written plainly (no sign, fraction or exponent)
        let c = p < len ? s[p]! : -1;
        if (c < 49 || c > 57) return -1;
        qS = p;
        let v = 0;
        while (p < len && (c = s[p]!) >= 48 && c <= 57) {
          v = v * 10 + (c - 48);
          p++;
          if (v > 1_000_000) return -1;
        }
        qE = p;
      } else if (field === 8) {
        // amount: digits (no leading zero) [. one or two digits], under 1e12
        let c = p < len ? s[p]! : -1;
        if (c < 48 || c > 57) return -1;
        aS = p;
        if (c === 48) p++;
        else {
          while (p < len && (c = s[p]!) >= 48 && c <= 57) p++;
          if (p - aS > 12) return -1;
        }
        aI = p;
        let fp = 0;
        if (s[p] === 46) {
          p++;
          c = p < len ? s[p]! : -1;
          if (c < 48 || c > 57) return -1;
          fp = (c - 48) * 10;
          p++;
          c = p < len ? s[p]! : -1;
          if (c >= 48 && c <= 57) {
            fp += c - 48;
            p++;
          }
        }
        // At most 12 + 2 digits were read, so the number JSON.parse gives prints back as these
        // digits (15 significant digits round-trip): checkOrderRequest's atMostTwoDecimals agrees.
        aF = fp;
      } else {
        if (s[p] !== 34 || s[p + 4] !== 34) return -1;
        for (let j = 1; j <= 3; j++) {
          const c = s[p + j]!;
          if (c < 65 || c > 90) return -1;
        }
        curS = p + 1;
        p += 5;
      }
      while (p < len && isWs(s[p]!)) p++;
      const c = s[p];
      p++;
      if (c === 44) continue;
      if (c === 125) break;
      return -1; // includes numbers followed by ".", "e", more digits...
    }
    if ((seen & 15) !== 15) return -1;
    this.end = p;

    // key
    const b = this.buf;
    let o = used;
    const keyOff = o;
    o = put(b, o, s, cS, cE - cS);
    const valOff = o;
    o = put(b, o, P_ORDER_ID, 0, P_ORDER_ID.length);
    const idOff = UUID_LEN * i;
    this.uuid.write(this.ids, idOff, now);
    o = put(b, o, this.ids, idOff, UUID_LEN);
    o = put(b, o, P_CUSTOMER, 0, P_CUSTOMER.length);
    o = put(b, o, s, cS, cE - cS);
    o = put(b, o, P_PRODUCT, 0, P_PRODUCT.length);
    o = put(b, o, s, pS, pE - pS);
    o = put(b, o, P_QUANTITY, 0, P_QUANTITY.length);
    o = put(b, o, s, qS, qE - qS);
    o = put(b, o, P_AMOUNT, 0, P_AMOUNT.length);
    // String(amount): the digits as given, trailing fraction zeros dropped (<= 14 significant
    // digits always print back as written)
    o = put(b, o, s, aS, aI - aS);
    if (aF !== 0) {
      b[o++] = 46;
      b[o++] = 48 + ((aF / 10) | 0);
      if (aF % 10 !== 0) b[o++] = 48 + (aF % 10);
    }
    o = put(b, o, P_CURRENCY, 0, P_CURRENCY.length);
    const cur = curS < 0 ? USD : s;
    const cs = Math.max(curS, 0);
    b[o] = cur[cs]!;
    b[o + 1] = cur[cs + 1]!;
    b[o + 2] = cur[cs + 2]!;
    o += 3;
    o = put(b, o, this.createdAt, 0, this.createdAt.length);
    const sp = this.spans;
    sp[4 * i] = keyOff;
    sp[4 * i + 1] = valOff - keyOff;
    sp[4 * i + 2] = valOff;
    sp[4 * i + 3] = o - valOff;
    return o;
  }
}

const R_ORDER_ID = ascii('{"order_id":"');
const R_PARTITION = ascii('","partition":');
const R_OFFSET = ascii(',"offset":');
const R_QUEUED = ascii('","status":"queued"}');

/** String(v) for an integer v (offsets are -1001 when the broker gives none, as with acks=0). */
function putInt(b: Uint8Array, o: number, v: number): number {
  if (v < 0) {
    b[o++] = 45;
    v = -v;
  }
  if (v < 2147483648) {
    let digits = 1;
    for (let t = v; t >= 10; t = (t / 10) | 0) digits++;
    let x = v | 0;
    for (let j = o + digits - 1; j >= o; j--) {
      const q = (x / 10) | 0;
      b[j] = 48 + x - q * 10;
      x = q;
    }
    return o + digits;
  }
  let digits = 1;
  for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
  for (let j = o + digits - 1; j >= o; j--) {
    const q = Math.floor(v / 10);
    b[j] = 48 + (v - q * 10);
    v = q;
  }
  return o + digits;
}

/**
 * The 202 body of a batch, as bytes: the same text as
 * `{"count":n,"orders":[{"order_id":..,"partition":..,"offset":..} or {"order_id":..,"status":"queued"},...]}`.
 */
export function batchAnswer(ids: Uint8Array, partitions: number[], offsets: number[], n: number): Uint8Array<ArrayBuffer> {
  const head = ascii(`{"count":${n},"orders":[`);
  const b = new Uint8Array(head.length + n * (UUID_LEN + 96) + 2);
  b.set(head);
  let o = head.length;
  for (let i = 0; i < n; i++) {
    if (i) b[o++] = 44;
    o = put(b, o, R_ORDER_ID, 0, R_ORDER_ID.length);
    o = put(b, o, ids, UUID_LEN * i, UUID_LEN);
    const p = partitions[i]!;
    if (p >= 0) {
      o = put(b, o, R_PARTITION, 0, R_PARTITION.length);
      o = putInt(b, o, p);
      o = put(b, o, R_OFFSET, 0, R_OFFSET.length);
      o = putInt(b, o, offsets[i]!);
      b[o++] = 125;
    } else {
      o = put(b, o, R_QUEUED, 0, R_QUEUED.length);
    }
  }
  b[o++] = 93;
  b[o++] = 125;
  return b.subarray(0, o);
}
