/**
 * A minimal HTTP/1.1 client for `ingest load`: keep-alive sockets (Bun.connect), one request in
 * flight per connection (no pipelining), requests written as ready-made bytes or strings, and
 * responses parsed straight from the socket's bytes (status line, Content-Length or chunked,
 * Connection: close) without Request/Response/Headers objects: fetch() cost ~10x wrk's CPU per
 * request (docs/benchmarks-e2e.md).
 */
import type { Socket } from "bun";

/** parseHead's answer when the head is not complete yet. */
export const NEED_MORE = -1;
/** parseHead's answer for a malformed head (not HTTP/1.x, bad length, too long). */
export const MALFORMED = -2;

/** What parseHead found, in module-level fields rather than a fresh object per response. */
export const head = {
  status: 0,
  /** Index just past the blank line ending the head. */
  bodyStart: 0,
  /** Content-Length, or -1 when absent. */
  contentLength: -1,
  chunked: false,
  /** The server closes after this response (Connection: close, or HTTP/1.0 without keep-alive). */
  close: false,
};

const MAX_HEAD = 64 * 1024;
const lower = (c: number) => (c >= 65 && c <= 90 ? c + 32 : c);
/** Whether buf[a..b) equals the lower-case ASCII name, case-insensitively. */
function nameIs(buf: Uint8Array, a: number, b: number, name: string): boolean {
  if (b - a !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (lower(buf[a + i]!) !== name.charCodeAt(i)) return false;
  return true;
}
/** Whether the lower-case ASCII token occurs in buf[a..b), case-insensitively. */
function hasToken(buf: Uint8Array, a: number, b: number, token: string): boolean {
  outer: for (let i = a; i + token.length <= b; i++) {
    for (let j = 0; j < token.length; j++) if (lower(buf[i + j]!) !== token.charCodeAt(j)) continue outer;
    return true;
  }
  return false;
}
function findCrlfCrlf(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  return -1;
}

/**
 * Parses a response head starting at `at` in buf[..end). Returns NEED_MORE, MALFORMED, or the
 * status (filling `head`).
 */
export function parseHead(buf: Uint8Array, at: number, end: number): number {
  const stop = findCrlfCrlf(buf, at, end);
  if (stop < 0) return end - at > MAX_HEAD ? MALFORMED : NEED_MORE;
  // "HTTP/1.x NNN"
  if (
    stop - at < 12 ||
    buf[at] !== 72 ||
    buf[at + 1] !== 84 ||
    buf[at + 2] !== 84 ||
    buf[at + 3] !== 80 ||
    buf[at + 4] !== 47 ||
    buf[at + 5] !== 49 ||
    buf[at + 6] !== 46
  )
    return MALFORMED;
  const s0 = buf[at + 9]! - 48,
    s1 = buf[at + 10]! - 48,
    s2 = buf[at + 11]! - 48;
  if (s0 < 1 || s0 > 5 || s1 < 0 || s1 > 9 || s2 < 0 || s2 > 9) return MALFORMED;
  const http10 = buf[at + 7] === 48;
  let keepAlive = false;
  head.status = s0 * 100 + s1 * 10 + s2;
  head.bodyStart = stop + 4;
  head.contentLength = -1;
  head.chunked = false;
  head.close = false;
  let line = at;
  while (line < stop) {
    // the next header line: [line, eol)
    let eol = line;
    while (eol < stop && !(buf[eol] === 13 && buf[eol + 1] === 10)) eol++;
    if (line !== at) {
      let colon = line;
      while (colon < eol && buf[colon] !== 58) colon++;
      let v = colon + 1;
      while (v < eol && (buf[v] === 32 || buf[v] === 9)) v++;
      const first = lower(buf[line]!);
      if (first === 99 /* c */) {
        if (nameIs(buf, line, colon, "content-length")) {
          let n = 0,
            digits = 0;
          for (let i = v; i < eol && buf[i] !== 32 && buf[i] !== 9; i++, digits++) {
            const d = buf[i]! - 48;
            if (d < 0 || d > 9) return MALFORMED;
            n = n * 10 + d;
          }
          if (!digits) return MALFORMED;
          head.contentLength = n;
        } else if (nameIs(buf, line, colon, "connection")) {
          if (hasToken(buf, v, eol, "close")) head.close = true;
          if (hasToken(buf, v, eol, "keep-alive")) keepAlive = true;
        }
      } else if (first === 116 /* t */ && nameIs(buf, line, colon, "transfer-encoding")) {
        head.chunked = hasToken(buf, v, eol, "chunked");
      }
    }
    line = eol + 2;
  }
  if (http10 && !keepAlive) head.close = true;
  return head.status;
}

/**
 * The end of a chunked body whose first chunk-size line starts at `at`: the index past the final
 * CRLF (after any trailers), NEED_MORE, or MALFORMED.
 */
export function chunkedEnd(buf: Uint8Array, at: number, end: number): number {
  let i = at;
  for (;;) {
    let size = 0,
      digits = 0;
    for (; i < end; i++, digits++) {
      const c = buf[i]!;
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      size = size * 16 + d;
    }
    if (i >= end) return NEED_MORE;
    if (!digits) return MALFORMED;
    while (i < end && buf[i] !== 10) i++; // chunk extensions, then CRLF
    if (i >= end) return NEED_MORE;
    i++;
    if (size === 0) {
      // trailers, each a line, up to an empty line
      for (;;) {
        let eol = i;
        while (eol < end && buf[eol] !== 10) eol++;
        if (eol >= end) return NEED_MORE;
        if (eol === i || (eol === i + 1 && buf[i] === 13)) return eol + 1;
        i = eol + 1;
      }
    }
    i += size + 2;
    if (i > end) return NEED_MORE;
  }
}

/** A body-less status (the head is the whole response). */
const noBody = (status: number) => status === 204 || status === 304 || (status >= 100 && status < 200);

export interface ClientOptions {
  hostname: string;
  port: number;
  tls: boolean;
  /** Connections at most (each carries one request at a time). */
  connections: number;
  /**
   * An idle connection older than this (ms) is closed, not reused: the server may be closing it
   * at that moment (its own keep-alive timeout), and a request written then gets no answer.
   */
  idleTimeoutMs?: number;
  /** A request finished: its HTTP status, or 0 with an error text. `tag` is what send() was given. */
  onDone: (tag: number, status: number, error: string | undefined) => void;
}

/** Per-connection state, kept in the socket's data slot (no closures per connection). */
interface Conn {
  socket: Socket<Conn> | undefined;
  /** The tag of the request in flight, or NaN when idle. */
  tag: number;
  /** Bytes of the request not yet accepted by the socket. */
  out: Uint8Array | undefined;
  /** A partial response head or chunked body. */
  pending: Uint8Array | undefined;
  /** Content-Length body bytes still to come (the bytes themselves are not kept). */
  remaining: number;
  status: number;
  closeAfter: boolean;
  /** Body delimited by the connection's end (no length, not chunked). */
  untilClose: boolean;
  dead: boolean;
  /** Why the connection failed, when known before its close (TLS verification). */
  failure?: string;
  /** performance.now() when it last became idle. */
  idleSince: number;
}

const encoder = new TextEncoder();

/**
 * A keep-alive connection pool. send() writes a request on an idle connection (opening one when
 * fewer than `connections` are open) and returns false when all are busy: the caller queues.
 */
export class LoadClient {
  private readonly idle: Conn[] = [];
  private open = 0;
  /** Requests in flight (connections busy, including those still connecting). */
  busy = 0;
  /** Connections opened over the run (a keep-alive run opens about `connections`). */
  opened = 0;
  private readonly all = new Set<Conn>();
  private readonly handlers: Parameters<typeof Bun.connect<Conn>>[0]["socket"];

  constructor(private readonly o: ClientOptions) {
    const self = this;
    this.handlers = {
      open(socket) {
        const c = socket.data;
        c.socket = socket;
        if (c.out) self.flush(c);
      },
      data(socket, chunk) {
        self.onData(socket.data, chunk);
      },
      drain(socket) {
        self.flush(socket.data);
      },
      close(socket) {
        self.onClose(socket.data, socket.data.failure ?? "connection closed before the response");
      },
      handshake(socket, success, authorizationError) {
        // Bun closes a connection whose certificate does not verify: say why, not just "closed".
        if (!success || authorizationError) socket.data.failure = `TLS: ${(authorizationError?.message ?? "handshake failed").slice(0, 60)}`;
      },
      error(socket, err) {
        self.onClose(socket.data, err.message);
      },
      connectError(socket, err) {
        self.onClose(socket.data, connectMessage(err));
      },
      end(socket) {
        socket.end();
      },
    };
  }

  /** Whether a request can go out now (an idle connection, or room for a new one). */
  get canSend(): boolean {
    return this.idle.length > 0 || this.open < this.o.connections;
  }

  /** Sends one request; false when every connection is busy. */
  send(request: Uint8Array | string, tag: number): boolean {
    // The idle list is a stack (the most recently used on top, so a low rate keeps reusing the
    // same few): the ones idle too long sit at its bottom.
    const limit = this.o.idleTimeoutMs;
    if (limit !== undefined && this.idle.length > 0) {
      const tooOld = performance.now() - limit;
      while (this.idle.length > 0 && this.idle[0]!.idleSince < tooOld) this.retire(this.idle[0]!);
    }
    let c = this.idle.pop();
    if (!c) {
      if (this.open >= this.o.connections) return false;
      c = this.connect();
    }
    this.busy++;
    c.tag = tag;
    c.status = 0;
    c.remaining = 0;
    c.untilClose = false;
    c.closeAfter = false;
    c.out = typeof request === "string" ? encoder.encode(request) : request;
    if (c.socket) this.flush(c);
    return true;
  }

  /** Closes every connection (the run is over; unanswered requests stay unanswered). */
  close(): void {
    for (const c of this.all) {
      c.dead = true;
      c.tag = NaN; // its close must not report the request: the caller counts it unanswered
      c.socket?.terminate();
    }
    this.all.clear();
  }

  private connect(): Conn {
    const c: Conn = {
      socket: undefined,
      tag: NaN,
      out: undefined,
      pending: undefined,
      remaining: 0,
      status: 0,
      closeAfter: false,
      untilClose: false,
      dead: false,
      idleSince: 0,
    };
    this.open++;
    this.opened++;
    this.all.add(c);
    Bun.connect<Conn>({
      hostname: this.o.hostname,
      port: this.o.port,
      tls: this.o.tls ? { serverName: this.o.hostname } : undefined,
      data: c,
      socket: this.handlers,
    }).catch(() => {
      // connectError has reported it
    });
    return c;
  }

  private flush(c: Conn) {
    const out = c.out;
    if (!out || !c.socket) return;
    const n = c.socket.write(out);
    c.out = n >= out.length ? undefined : out.subarray(Math.max(0, n));
  }

  private finish(c: Conn, status: number, error: string | undefined) {
    const tag = c.tag;
    c.tag = NaN;
    c.pending = undefined;
    c.out = undefined;
    this.busy--;
    if (c.closeAfter && !c.dead) this.retire(c);
    if (!c.dead) {
      c.idleSince = performance.now();
      this.idle.push(c);
    }
    this.o.onDone(tag, status, error);
  }

  private retire(c: Conn) {
    if (c.dead) return;
    c.dead = true;
    this.open--;
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    c.socket?.end();
  }

  private onClose(c: Conn, why: string) {
    const inFlight = !Number.isNaN(c.tag);
    const untilClose = c.untilClose;
    this.retire(c);
    if (!inFlight) return;
    if (untilClose) this.finish(c, c.status, undefined);
    else this.finish(c, 0, why);
  }

  private onData(c: Conn, chunk: Uint8Array) {
    if (Number.isNaN(c.tag)) return; // nothing asked: pipelining is off, so stray bytes are dropped
    if (c.untilClose) return;
    if (c.remaining > 0) {
      // the rest of a Content-Length body: counted, not kept
      if (chunk.length < c.remaining) {
        c.remaining -= chunk.length;
        return;
      }
      c.remaining = 0;
      this.finish(c, c.status, undefined);
      return;
    }
    let buf = chunk;
    if (c.pending) {
      buf = new Uint8Array(c.pending.length + chunk.length);
      buf.set(c.pending);
      buf.set(chunk, c.pending.length);
      c.pending = undefined;
    }
    let at = 0;
    for (;;) {
      if (c.status === 0) {
        const s = parseHead(buf, at, buf.length);
        if (s === NEED_MORE) return void (c.pending = buf.slice(at));
        if (s === MALFORMED) {
          this.retire(c);
          return this.finish(c, 0, "malformed response");
        }
        if (s < 200) {
          at = head.bodyStart; // 1xx: an interim head, the real one follows
          continue;
        }
        c.status = s;
        c.closeAfter = head.close;
        at = head.bodyStart;
        if (noBody(s)) return this.finish(c, s, undefined);
        if (head.chunked) {
          c.remaining = -1; // chunked, below
        } else if (head.contentLength >= 0) {
          const have = buf.length - at;
          if (have >= head.contentLength) return this.finish(c, s, undefined);
          c.remaining = head.contentLength - have;
          return;
        } else {
          c.untilClose = true;
          c.closeAfter = true;
          return;
        }
      }
      // chunked body from `at`
      const e = chunkedEnd(buf, at, buf.length);
      if (e === NEED_MORE) {
        c.pending = buf.slice(at);
        return;
      }
      if (e === MALFORMED) {
        this.retire(c);
        return this.finish(c, 0, "malformed chunked body");
      }
      c.remaining = 0;
      return this.finish(c, c.status, undefined);
    }
  }
}

function connectMessage(err: Error & { code?: string }): string {
  if (err.code === "ECONNREFUSED" || /refused/i.test(err.message)) return "connection refused";
  return err.message.slice(0, 60);
}
