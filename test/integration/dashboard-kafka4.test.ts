/**
 * `ingest dashboard` and `ingest lag` against a real Apache Kafka 4.4 broker (tools/kafka): where
 * the embedded broker has neither, the cluster lists its groups (the dashboard finds the group
 * without --group) and describes their members; the lag is `ingest lag --json`'s; once the
 * members have left, the lagging group is STOP (no member holds its partitions).
 */
import { expect, beforeAll, afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kafka4Test, sharedKafka4, type KafkaCluster } from "../helpers/kafka4.ts";
import { runIngest, spawnIngest } from "../helpers/cli.ts";
import { uniqueName } from "../helpers/broker.ts";
import { until, spawnAndReadLine } from "../helpers/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "ingest-dash-k4-"));
const ROWS = 3000;
let k: KafkaCluster;
beforeAll(async () => {
  k = await sharedKafka4();
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface State {
  cluster: { up: boolean; listGroupsError: string | null };
  brokers: { id: number; up: boolean }[];
  topics: { name: string; retained: number }[];
  groups: {
    id: string;
    status: string;
    lag: number;
    membersSource: string | null;
    members: { clientId: string; partitions: number }[];
    state: string | null;
  }[];
}

kafka4Test(
  "dashboard on Kafka 4.4: the cluster lists and describes the group, its lag is ingest lag's, STOP once the members left",
  async () => {
    const topic = uniqueName("k4-dash");
    const group = uniqueName("k4-dash-g");
    const csv = join(dir, "users.csv");
    expect((await runIngest(["gen", "users", "--rows", String(ROWS), "--out", csv])).code).toBe(0);
    expect((await runIngest(["topic", "create", topic, "--partitions", "3", "-b", k.bootstrap])).code).toBe(0);
    expect((await runIngest(["produce", "--file", csv, "--topic", topic, "-b", k.bootstrap])).code).toBe(0);
    const consumer = spawnIngest([
      "consume",
      "-b",
      k.bootstrap,
      "--group",
      group,
      "--topics",
      topic,
      "--format",
      "raw",
      "--sink",
      "none",
      "-X",
      "session.timeout.ms=6000",
    ]);
    // No --group: the dashboard must find the group by listing the cluster's groups.
    const { proc: dash, line } = await spawnAndReadLine(["dashboard", "-b", k.bootstrap, "--port", "0", "--refresh", "500ms", "--topic", topic]);
    try {
      const base = line.replace(/^dashboard on /, "");
      const state = async () => (await (await fetch(`${base}/api/state`)).json()) as State;
      const g = await until(
        "the group listed, described and drained",
        async () => {
          const s = await state();
          const x = s.groups.find((y) => y.id === group);
          return x && x.membersSource === "broker" && x.members.length === 1 && x.lag === 0 ? { s, x } : undefined;
        },
        90_000,
      );
      expect(g.s.cluster.up).toBe(true);
      expect(g.s.cluster.listGroupsError).toBeNull();
      expect(g.s.brokers.map((b) => b.up)).toEqual([true]);
      expect(g.x.members[0]!.partitions).toBe(3);
      expect(g.x.state).toBe("Stable");
      expect(g.s.topics.find((t) => t.name === topic)!.retained).toBe(ROWS);

      // The consumer leaves cleanly, more is produced: lag, and no member holds the partitions.
      consumer.kill("SIGTERM");
      expect(await consumer.exited).toBe(0);
      expect((await runIngest(["produce", "--file", csv, "--topic", topic, "-b", k.bootstrap])).code).toBe(0);
      const stopped = await until(
        "STOP with lag",
        async () => {
          const x = (await state()).groups.find((y) => y.id === group);
          return x && x.lag === ROWS && x.status === "STOP" ? x : undefined;
        },
        60_000,
      );
      expect(stopped.members).toEqual([]);
      const cli = await runIngest(["lag", "-b", k.bootstrap, "--group", group, "--topic", topic, "--json"]);
      expect(cli.code, cli.stderr).toBe(0);
      const j = JSON.parse(cli.stdout) as { total_lag: number; status: string };
      expect(j.total_lag).toBe(stopped.lag);
      // One observation is enough here: the cluster says no member holds the partitions.
      expect(j.status).toBe("STOP");
    } finally {
      consumer.kill("SIGKILL");
      dash.kill("SIGTERM");
      await dash.exited;
    }
  },
  180_000,
);
