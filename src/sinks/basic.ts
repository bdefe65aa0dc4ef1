import type { Sink, User, Order, OrderBatchResult } from "./types.ts";
import { writeAll } from "../gen/write.ts";

const unchecked = (orders: readonly Order[]): OrderBatchResult => ({ results: orders.map((o) => ({ order_id: o.order_id, status: "unchecked" as const })), touched: [] });

/** Writes nothing: for measuring the consumer itself (every record is still decoded and validated). */
export class NoneSink implements Sink {
  readonly name = "none" as const;
  readonly target = "(nothing)";
  async start(): Promise<void> {}
  async writeUsers(): Promise<void> {}
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
  async writeOrders(orders: readonly Order[], upstream?: OrderBatchResult): Promise<OrderBatchResult> {
    writeAll(1, orders.map((o) => JSON.stringify({ kind: "order", ...o })).join("\n") + "\n");
    return upstream ?? unchecked(orders);
  }
  async ping(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}
