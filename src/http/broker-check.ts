/// <reference lib="webworker" />
/**
 * serve's broker reachability check, in a worker: rd_kafka_metadata blocks its thread (for its
 * whole timeout when the broker is down), and on the server's event loop that held every request,
 * /health included, for a second every five while the broker was down. Here it blocks only this
 * worker, which posts each outcome to the server. It also reports the partition counts of the
 * topics the server publishes to (for the publisher's batches ordered by partition, see
 * Producer partitionBatches): asked only for topics the server named after publishing to them,
 * so this check never makes a broker auto-create a topic nobody wrote to.
 */
import { Admin } from "../kafka/index.ts";

export interface BrokerCheckJob {
  kafka: Record<string, string>;
  intervalMs: number;
  timeoutMs: number;
}
/** After the job: also report this topic's partition count, from now on (and at once). */
export interface BrokerCheckWatch {
  watch: string;
}
export interface BrokerCheckResult {
  ok: boolean;
  error?: string;
  at: number;
  /** Partition counts of the watched topics (0: unknown, e.g. no such topic). */
  partitions?: Record<string, number>;
}

/** One check: a metadata round trip for the brokers only, then one per watched topic (each blocks up to timeoutMs). */
export function checkBroker(admin: Admin, timeoutMs: number, topics: Iterable<string> = []): BrokerCheckResult {
  try {
    admin.metadata(timeoutMs, undefined, true);
  } catch (e) {
    return { ok: false, error: (e as Error).message, at: Date.now() };
  }
  const partitions: Record<string, number> = {};
  for (const t of topics) {
    try {
      const info = admin.metadata(timeoutMs, t).topics.find((x) => x.name === t && x.err === 0);
      partitions[t] = info?.partitions.length ?? 0;
    } catch {
      partitions[t] = 0;
    }
  }
  return { ok: true, at: Date.now(), partitions };
}

declare const self: Worker;
if (typeof self !== "undefined" && !Bun.isMainThread) {
  let admin: Admin | undefined;
  let timeoutMs = 1000;
  const topics = new Set<string>();
  // The server made the first check itself, at start; these are the next ones.
  self.onmessage = (ev: MessageEvent<BrokerCheckJob | BrokerCheckWatch>) => {
    if ("watch" in ev.data) {
      topics.add(ev.data.watch);
      if (admin) self.postMessage(checkBroker(admin, timeoutMs, [ev.data.watch]));
      return;
    }
    timeoutMs = ev.data.timeoutMs;
    const a = (admin = new Admin(ev.data.kafka));
    setInterval(() => self.postMessage(checkBroker(a, timeoutMs, topics)), ev.data.intervalMs);
  };
}
