/**
 * A real schema registry for the tests (tools/registry/registry.ts, Apicurio Registry with its
 * Confluent-compatible API): one shared per test process, started on first use and stopped
 * after the last file (preload.ts). Like kafka4.ts: skipped without java/mvn, failing instead
 * under scripts/test.sh (INGEST_REQUIRE_ALL=1).
 */
import { test } from "bun:test";
import { SchemaRegistry, registryUnavailableReason } from "../../tools/registry/registry.ts";
import { kafka4Available } from "./kafka4.ts";

export { SchemaRegistry };

const reason = registryUnavailableReason();

/** `test` when both Kafka 4.4 and the registry can run here. */
export const registryTest: typeof test = (() => {
  if (reason === null && kafka4Available) return test;
  if (process.env.INGEST_REQUIRE_ALL === "1") {
    return ((name: string, _fn: unknown, timeout?: number) =>
      test(name, () => {
        throw new Error(`schema registry or Kafka 4.4 harness unavailable: ${reason ?? "Kafka 4.4 harness unavailable"}`);
      }, timeout)) as unknown as typeof test;
  }
  return test.skip;
})();

let shared: Promise<SchemaRegistry> | null = null;

/** The registry shared by every test file of this process, with BACKWARD compatibility checks on. */
export function sharedRegistry(): Promise<SchemaRegistry> {
  return (shared ??= SchemaRegistry.start().then(async (r) => {
    await r.setCompatibility("BACKWARD");
    return r;
  }));
}

export async function stopSharedRegistry(): Promise<void> {
  const s = shared;
  shared = null;
  // A registry that never came up was already stopped (and its start failed its own tests).
  if (s) await (await s.catch(() => null))?.stop();
}
