/**
 * ingest against a real Apache Kafka 4.4 (KRaft) broker from tools/kafka (single node), checked
 * with clients nobody here wrote: kcat and Kafka's own Java tools.
 */
import { expect, beforeAll } from "bun:test";
import { kafka4Test, sharedKafka4, type KafkaCluster } from "./helpers/kafka4.ts";
import { runIngest } from "./helpers/cli.ts";
import { uniqueName } from "./helpers/broker.ts";

let k: KafkaCluster;
beforeAll(async () => {
  k = await sharedKafka4();
}, 120_000);

kafka4Test("topic create/list/describe through ingest's admin API, as Kafka's own TopicCommand sees them", async () => {
  const topic = uniqueName("k4-admin");
  const c = await runIngest(["topic", "create", topic, "--partitions", "5", "--config", "retention.ms=3600000", "-b", k.bootstrap]);
  expect(c.stderr + c.stdout).toContain(`created topic ${topic} with 5 partitions`);
  expect(c.code).toBe(0);
  const again = await runIngest(["topic", "create", topic, "--partitions", "5", "--if-not-exists", "-b", k.bootstrap]);
  expect(again.code).toBe(0);
  const dup = await runIngest(["topic", "create", topic, "--partitions", "5", "-b", k.bootstrap]);
  expect(dup.code).not.toBe(0);
  expect(dup.stderr).toMatch(/already exists/i);

  const java = k.tool("topics", ["--bootstrap-server", k.bootstrap, "--describe", "--topic", topic]);
  expect(java.code).toBe(0);
  expect(java.stdout).toContain("PartitionCount: 5");
  expect(java.stdout).toContain("retention.ms=3600000");

  const list = await runIngest(["topic", "list", "--json", "-b", k.bootstrap]);
  expect(list.code).toBe(0);
  expect(JSON.stringify(JSON.parse(list.stdout))).toContain(topic);
  const desc = await runIngest(["topic", "describe", topic, "--json", "-b", k.bootstrap]);
  expect(desc.code).toBe(0);
  const d = JSON.parse(desc.stdout);
  expect(d.partitions.length).toBe(5);
  for (const p of d.partitions) expect(p.leader).toBe(1);
}, 120_000);
