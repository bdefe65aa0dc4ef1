/// <reference lib="webworker" />
/**
 * serve's broker reachability check, in a worker: rd_kafka_metadata blocks its thread (for its
 * whole timeout when the broker is down), and on the server's event loop that held every request,
 * /health included, for a second every five while the broker was down. Here it blocks only this
 * worker, which posts each outcome to the server.
 */
import { Admin } from "../kafka/index.ts";

export interface BrokerCheckJob {
  kafka: Record<string, string>;
  intervalMs: number;
  timeoutMs: number;
}
export interface BrokerCheckResult {
  ok: boolean;
  error?: string;
  at: number;
}

/** One check: a metadata round trip for the brokers only (blocks up to timeoutMs). */
export function checkBroker(admin: Admin, timeoutMs: number): BrokerCheckResult {
  try {
    admin.metadata(timeoutMs, undefined, true);
    return { ok: true, at: Date.now() };
  } catch (e) {
    return { ok: false, error: (e as Error).message, at: Date.now() };
  }
}

declare const self: Worker;
if (typeof self !== "undefined" && !Bun.isMainThread) {
  // The server made the first check itself, at start; these are the next ones.
  self.onmessage = (ev: MessageEvent<BrokerCheckJob>) => {
    const { kafka, intervalMs, timeoutMs } = ev.data;
    const admin = new Admin(kafka);
    setInterval(() => self.postMessage(checkBroker(admin, timeoutMs)), intervalMs);
  };
}
