import type { Sink, OrderBatchResult, RawValues } from "./types.ts";
import type { User, Order } from "../core/records.ts";
import { writeAll as writeAllFd } from "../core/write-all.ts";
import { SinkError } from "./errors.ts";

/** Standard output closed under us (e.g. `| head`): no retry can help. */
function writeAll(fd: number, data: string | Uint8Array): void {
  try {
    writeAllFd(fd, data);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SinkError("stdout", `cannot write to standard output: ${code ?? (e as Error).message}`, {
      retriable: code !== "EPIPE" && code !== "EBADF",
      code,
      cause: e,
    });
  }
}

const unchecked = (orders: readonly Order[]): OrderBatchResult => ({
  results: orders.map((o) => ({ order_id: o.order_id, status: "unchecked" as const })),
  touched: [],
});

/** Writes nothing: for measuring the consumer itself (every record is still decoded and validated). */
export class NoneSink implements Sink {
  readonly name = "none" as const;
  readonly target = "(nothing)";
  async start(): Promise<void> {}
  async writeUsers(): Promise<void> {}
  async writeRaw(): Promise<void> {}
  async writeOrders(orders: readonly Order[]): Promise<OrderBatchResult> {
    return unchecked(orders);
  }
  async ping(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}

/** One JSON object per line on stdout, tagged with its kind. */
export class StdoutSink implements Sink {
  readonly name = "stdout" as const;
  readonly target = "stdout";
  async start(): Promise<void> {}
  async writeUsers(users: readonly User[]): Promise<void> {
    writeAll(1, users.map((u) => JSON.stringify({ kind: "user", ...u })).join("\n") + "\n");
  }
  /** --format raw: each value as received, one per line (a null value is an empty line). */
  async writeRaw(values: RawValues): Promise<void> {
    const { data, start, len } = values;
    let n = 0;
    for (let i = 0; i < start.length; i++) n += Math.max(0, len[i]!) + 1;
    const out = new Uint8Array(n);
    let off = 0;
    for (let i = 0; i < start.length; i++) {
      if (len[i]! > 0) out.set(data.subarray(start[i]!, start[i]! + len[i]!), off);
      off += Math.max(0, len[i]!);
      out[off++] = 10;
    }
    writeAll(1, out);
  }
  async writeOrders(orders: readonly Order[], upstream?: OrderBatchResult): Promise<OrderBatchResult> {
    writeAll(1, orders.map((o) => JSON.stringify({ kind: "order", ...o })).join("\n") + "\n");
    return upstream ?? unchecked(orders);
  }
  async ping(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}
