/**
 * A real schema registry for the tests (tools/registry/registry.ts, Apicurio Registry with its
 * Confluent-compatible API): one shared per test process, started on first use and stopped
 * after the last file (preload.ts). Like kafka4.ts: skipped without java/mvn, failing instead
 * under scripts/test.sh (INGEST_REQUIRE_ALL=1).
 */
import type { test } from "bun:test";
import { needs } from "./needs.ts";
import { SchemaRegistry, registryUnavailableReason } from "../../tools/registry/registry.ts";
import { kafka4Available } from "./kafka4.ts";

export { SchemaRegistry };

const reason = registryUnavailableReason();

/** `test` when both Kafka 4.4 and the registry can run here. */
export const registryTest: typeof test = needs(
  "the schema registry and Kafka 4.4 harnesses",
  reason ?? (kafka4Available ? null : "the Kafka 4.4 harness is unavailable"),
);

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
