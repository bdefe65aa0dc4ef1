/**
 * Real Apache Kafka 4.4 for the tests (tools/kafka/cluster.ts): one shared single-node cluster
 * per test process (started on first use, stopped at exit), or a cluster of a test's own.
 * Without java/mvn the tests are skipped, except under scripts/test.sh (INGEST_REQUIRE_ALL=1),
 * where a missing prerequisite fails the run instead of hiding the Kafka 4.4 tests.
 */
import type { test } from "bun:test";
import { needs } from "./needs.ts";
import { KafkaCluster, kafkaUnavailableReason, type ClusterOptions } from "../../tools/kafka/cluster.ts";

export { KafkaCluster };

const reason = kafkaUnavailableReason();
/** True when the Kafka 4.4 tests can run here. */
export const kafka4Available = reason === null;

/** `test` when Kafka 4.4 can run; otherwise skipped (or failing under INGEST_REQUIRE_ALL). */
export const kafka4Test: typeof test = needs("the Kafka 4.4 harness", reason);

let shared: Promise<KafkaCluster> | null = null;

/** The single-node cluster shared by every test file of this process. */
export function sharedKafka4(): Promise<KafkaCluster> {
  return (shared ??= KafkaCluster.start({ nodes: 1 }));
}

/** Stop the shared cluster if one was started (test/helpers/preload.ts, after the last file). */
export async function stopSharedKafka4(): Promise<void> {
  const s = shared;
  shared = null;
  if (s) await (await s).stop();
}

/** A cluster of the caller's own (stop it in afterAll). */
export function startKafka4(opts: ClusterOptions = {}): Promise<KafkaCluster> {
  return KafkaCluster.start(opts);
}
