/**
 * A TCP proxy the test owns, in front of a store (MariaDB, Redis), so a test can cut the store
 * off mid-run and bring it back without touching the real service other tests share.
 *
 * cut(): every open connection is destroyed and new ones are refused (accepted, then closed at
 * once) until restore(). Each direction buffers what write() could not take and flushes it on
 * drain, so a slow reader on one side never loses bytes from the other.
 */
import type { Socket, TCPSocketListener } from "bun";

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** e.g. "127.0.0.1:40123" */
  readonly address: string;
  cut(): void;
  restore(): void;
  close(): void;
  readonly isCut: boolean;
  readonly counters: { accepted: number; refused: number; killed: number; bytesUp: number; bytesDown: number; open: number };
}

/** One direction's pending bytes: write() may take less than asked under backpressure. */
class Pipe {
  private queue: Uint8Array[] = [];
  constructor(private readonly count: (n: number) => void) {}
  target: Socket<unknown> | null = null;

  send(data: Uint8Array): void {
    // Bun reuses the receive buffer after the data handler returns: keep a copy when queueing.
    if (!this.target || this.queue.length) {
      this.queue.push(data.slice());
      this.flush();
      return;
    }
    const n = this.target.write(data);
    if (n > 0) this.count(n);
    if (n < data.length) this.queue.push(data.slice(Math.max(0, n)));
  }

  flush(): void {
    const t = this.target;
    if (!t) return;
    while (this.queue.length) {
      const head = this.queue[0]!;
      const n = t.write(head);
      if (n > 0) this.count(n);
      if (n < head.length) {
        this.queue[0] = head.subarray(Math.max(0, n));
        return; // the drain handler calls flush() again
      }
      this.queue.shift();
    }
  }

  get pending(): number {
    return this.queue.reduce((s, b) => s + b.length, 0);
  }
}

interface Conn {
  client: Socket<Conn>;
  upstream: Socket<Conn> | null;
  up: Pipe; // client -> upstream
  down: Pipe; // upstream -> client
  closed: boolean;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const counters = { accepted: 0, refused: 0, killed: 0, bytesUp: 0, bytesDown: 0, open: 0 };
  const conns = new Set<Conn>();
  let isCut = false;

  const shut = (c: Conn) => {
    if (c.closed) return;
    c.closed = true;
    conns.delete(c);
    counters.open--;
    // end() after the remaining bytes are flushed would be gentler; a cut wants them gone, and a
    // peer that closed is done anyway.
    c.client.end();
    c.upstream?.end();
  };

  const listener: TCPSocketListener<Conn> = Bun.listen<Conn>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        if (isCut) {
          counters.refused++;
          client.terminate();
          return;
        }
        counters.accepted++;
        counters.open++;
        const c: Conn = {
          client,
          upstream: null,
          up: new Pipe((n) => (counters.bytesUp += n)),
          down: new Pipe((n) => (counters.bytesDown += n)),
          closed: false,
        };
        c.down.target = client as Socket<unknown>;
        client.data = c;
        conns.add(c);
        Bun.connect<Conn>({
          hostname: targetHost,
          port: targetPort,
          data: c,
          socket: {
            open(up) {
              if (c.closed) return void up.end();
              c.upstream = up;
              c.up.target = up as Socket<unknown>;
              c.up.flush();
            },
            data(_up, chunk) {
              if (!c.closed) c.down.send(chunk);
            },
            drain() {
              c.up.flush();
            },
            close() {
              shut(c);
            },
            error() {
              shut(c);
            },
            connectError() {
              shut(c);
            },
          },
        }).catch(() => shut(c));
      },
      data(client, chunk) {
        const c = client.data;
        if (c && !c.closed) c.up.send(chunk);
      },
      drain(client) {
        client.data?.down.flush();
      },
      close(client) {
        if (client.data) shut(client.data);
      },
      error(client) {
        if (client.data) shut(client.data);
      },
    },
  });

  return {
    host: "127.0.0.1",
    port: listener.port,
    address: `127.0.0.1:${listener.port}`,
    get isCut() {
      return isCut;
    },
    counters,
    cut,
    restore() {
      isCut = false;
    },
    close() {
      cut();
      listener.stop(true);
    },
  };

  function cut() {
    isCut = true;
    for (const c of [...conns]) {
      counters.killed++;
      c.closed = true;
      conns.delete(c);
      counters.open--;
      // terminate(): an abrupt close (no graceful FIN wait), what a dead peer looks like.
      c.client.terminate();
      c.upstream?.terminate();
    }
  }
}
