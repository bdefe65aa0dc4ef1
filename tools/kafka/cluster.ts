/**
 * A real Apache Kafka 4.4 (KRaft) cluster on 127.0.0.1, from Maven Central's jars and the
 * machine's Java: one combined broker+controller, or three (replication factor 3,
 * min.insync.replicas=2). Used by the tests, the soak scenarios, the benchmarks and
 * scripts/kafka.sh. No Docker, no tarball: tools/kafka/pom.xml names the jars, Maven resolves
 * them once into ~/.m2, and the classpath is cached in .cache/kafka4/.
 *
 * Nothing is left behind: every node's process is started under a parent-death signal (the
 * node dies with the process that owns the cluster, even on SIGKILL), Ctrl-C and exit stop
 * every cluster this process started and remove its directory, and a start sweeps directories
 * whose owner died before it could clean up.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const KAFKA_VERSION = "4.4.0";
const HERE = import.meta.dir;
const ROOT = join(HERE, "..", "..");
const POM = join(HERE, "pom.xml");
const LOG4J = join(HERE, "log4j2.properties");
const CACHE = join(ROOT, ".cache", "kafka4");
const DIR_PREFIX = "ingest-kafka4-";

export interface NodeInfo {
  id: number;
  port: number;
  controllerPort: number;
  dir: string;
  /** PID of the node's JVM while it runs. */
  pid: number | null;
}

export interface ClusterOptions {
  /** 1: one combined broker+controller; 3: a three-node quorum, RF 3, min.insync.replicas 2. */
  nodes?: 1 | 3;
  /** Extra broker properties, applied to every node (they win over the harness's). */
  brokerProps?: Record<string, string>;
  /** JVM heap per node in MB (default 1024 for one node, 512 for three). */
  heapMb?: number;
  /**
   * Detached: the nodes outlive this process (scripts/kafka.sh start); stop with
   * `KafkaCluster.attach(state).stop()`. Default: the nodes die with this process.
   */
  detached?: boolean;
  /** Milliseconds to wait for every broker to answer (default 180 s: three JVMs starting on two busy cores). */
  timeoutMs?: number;
}

export interface ClusterState {
  version: string;
  dir: string;
  bootstrap: string;
  nodes: NodeInfo[];
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Main classes of Kafka's own tools, by the names of their bin/ scripts. */
export const KAFKA_TOOLS: Record<string, string> = {
  "console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
  "console-producer": "org.apache.kafka.tools.ConsoleProducer",
  "consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
  topics: "org.apache.kafka.tools.TopicCommand",
  "producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
  "consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
  "metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
  "get-offsets": "org.apache.kafka.tools.GetOffsetShell",
  "dump-log": "org.apache.kafka.tools.DumpLogSegments",
  transactions: "org.apache.kafka.tools.TransactionsCommand",
  storage: "kafka.tools.StorageTool",
};

/** Why the harness cannot run here, or null when it can (java and mvn on PATH). */
export function kafkaUnavailableReason(): string | null {
  if (!Bun.which("java")) return "java is not installed";
  if (!existsSync(join(CACHE, cacheName())) && !Bun.which("mvn")) return "mvn is not installed (needed once to resolve Kafka's jars)";
  return null;
}

function cacheName(): string {
  return `classpath-${createHash("sha256").update(readFileSync(POM)).digest("hex").slice(0, 12)}.txt`;
}

/**
 * The classpath of Kafka 4.4's broker and tools: resolved by Maven the first time (about 30 s,
 * ~100 MB into ~/.m2), then read from .cache/kafka4 while every jar is still there.
 */
export function kafkaClasspath(): string {
  const file = join(CACHE, cacheName());
  if (existsSync(file)) {
    const cp = readFileSync(file, "utf8").trim();
    if (cp?.split(":").every((j) => existsSync(j))) return cp;
  }
  if (!Bun.which("mvn")) throw new Error("Kafka's jars are not resolved and mvn is not installed (scripts/setup.sh installs maven)");
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const r = Bun.spawnSync(["mvn", "-q", "-B", "-f", POM, "dependency:build-classpath", `-Dmdep.outputFile=${tmp}`, "-DincludeScope=runtime"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0 || !existsSync(tmp)) {
    throw new Error(`mvn could not resolve Kafka ${KAFKA_VERSION} from ${POM}:\n${(r.stdout.toString() + r.stderr.toString()).slice(-3000)}`);
  }
  Bun.spawnSync(["mv", tmp, file]);
  return readFileSync(file, "utf8").trim();
}

/**
 * `n` free ports below the kernel's ephemeral range: a port from that range could be taken by
 * an outgoing connection (the nodes connect to each other while they start) before its node
 * binds it, or while a killed node is down.
 */
export function freePorts(n: number): number[] {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low;
  } catch {}
  const lo = Math.min(20000, low - 2000);
  const ports: number[] = [];
  while (ports.length < n) {
    const port = lo + Math.floor(Math.random() * (low - lo));
    if (ports.includes(port)) continue;
    try {
      Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
      ports.push(port);
    } catch {}
  }
  return ports;
}

/**
 * argv prefix that makes the child die with signal 9 when this process dies (prctl
 * PR_SET_PDEATHSIG through perl, which is on every Debian machine), so a killed test run never
 * leaves a JVM behind.
 */
export function dieWithParent(): string[] {
  const nr = process.arch === "arm64" ? 167 : 157; // SYS_prctl
  return ["perl", "-e", `syscall(${nr}, 1, 9) == 0 or die "prctl: $!"; exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!"`];
}

/**
 * The class-data-sharing archive of the harness's JVMs (Kafka's classes, parsed once and mapped
 * by every later JVM: a tool starts in about half the time), made by `buildClassArchive()`.
 * JVM options that use it when it exists; a stale one (another JDK) is ignored by the JVM, whose
 * warnings go to stderr so that no tool's stdout carries them.
 */
function classArchive(): string {
  return join(CACHE, cacheName().replace(/^classpath-(.*)\.txt$/, "classes-$1.jsa"));
}
function shareArgs(): string[] {
  const jsa = classArchive();
  return ["-Xlog:disable", "-Xlog:all=warning:stderr", ...(existsSync(jsa) ? [`-XX:SharedArchiveFile=${jsa}`] : [])];
}

function javaArgv(cp: string, heapMb: number, mainClass: string, args: string[], extra: string[] = shareArgs()): string[] {
  return [
    "java",
    ...extra,
    `-Xms${heapMb}m`,
    `-Xmx${heapMb}m`,
    // Kafka's own defaults (bin/kafka-run-class.sh).
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${LOG4J}`,
    "-cp",
    cp,
    mainClass,
    ...args,
  ];
}

function nodeConfig(n: NodeInfo, all: NodeInfo[], props: Record<string, string>): string {
  const three = all.length > 1;
  const rf = String(all.length);
  const minIsr = three ? "2" : "1";
  const base: Record<string, string> = {
    "process.roles": "broker,controller",
    "node.id": String(n.id),
    ...(three
      ? { "controller.quorum.voters": all.map((x) => `${x.id}@127.0.0.1:${x.controllerPort}`).join(",") }
      : { "controller.quorum.bootstrap.servers": `127.0.0.1:${n.controllerPort}` }),
    listeners: `PLAINTEXT://127.0.0.1:${n.port},CONTROLLER://127.0.0.1:${n.controllerPort}`,
    "advertised.listeners": `PLAINTEXT://127.0.0.1:${n.port}`,
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "log.dirs": join(n.dir, "data"),
    "default.replication.factor": rf,
    "min.insync.replicas": minIsr,
    "offsets.topic.replication.factor": rf,
    "offsets.topic.num.partitions": "6",
    "transaction.state.log.replication.factor": rf,
    "transaction.state.log.min.isr": minIsr,
    "transaction.state.log.num.partitions": "6",
    "share.coordinator.state.topic.replication.factor": rf,
    "share.coordinator.state.topic.min.isr": minIsr,
    "group.initial.rebalance.delay.ms": "0",
    "unclean.leader.election.enable": "false",
    // Leadership returns to the preferred replicas within seconds after a restart (Kafka's
    // default checks every 300 s), so fault runs see a restarted broker lead again.
    "leader.imbalance.check.interval.seconds": "10",
    "log.cleaner.dedupe.buffer.size": "16777216",
    "num.network.threads": "2",
    "num.io.threads": "4",
    ...props,
  };
  return (
    Object.entries(base)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n") + "\n"
  );
}

/** A cluster id as Kafka's `storage random-uuid` makes it: 16 random bytes, base64url, no leading '-'. */
function randomClusterId(): string {
  for (;;) {
    const id = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

/** Remove harness directories whose owner and nodes are all gone (a run that was SIGKILLed). */
function sweepStale(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const pids: number[] = [];
    try {
      pids.push(Number(readFileSync(join(dir, "owner.pid"), "utf8")));
      for (const d of readdirSync(dir))
        if (d.startsWith("node-") && existsSync(join(dir, d, "pid"))) pids.push(Number(readFileSync(join(dir, d, "pid"), "utf8")));
    } catch {
      continue; // being created or removed right now
    }
    if (pids.every((p) => !alive(p))) rmSync(dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const live = new Set<KafkaCluster>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const c of live) c.killNow();
  });
  for (const [sig, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    process.on(sig, () => {
      for (const c of live) c.killNow();
      process.exit(code);
    });
  }
}

export class KafkaCluster {
  readonly dir: string;
  readonly nodes: NodeInfo[];
  readonly bootstrap: string;
  private readonly cp: string;
  private readonly heapMb: number;
  private readonly detached: boolean;
  private readonly procs = new Map<number, Subprocess>();

  private constructor(dir: string, nodes: NodeInfo[], cp: string, heapMb: number, detached: boolean) {
    this.dir = dir;
    this.nodes = nodes;
    this.cp = cp;
    this.heapMb = heapMb;
    this.detached = detached;
    this.bootstrap = nodes.map((n) => `127.0.0.1:${n.port}`).join(",");
  }

  /** Format and start a fresh cluster, and wait until its metadata lists every broker. */
  static async start(opts: ClusterOptions = {}): Promise<KafkaCluster> {
    const count = opts.nodes ?? 1;
    const cp = kafkaClasspath();
    sweepStale();
    const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
    writeFileSync(join(dir, "owner.pid"), String(opts.detached ? 0 : process.pid));
    const ports = freePorts(count * 2);
    const nodes: NodeInfo[] = Array.from({ length: count }, (_, i) => ({
      id: i + 1,
      port: ports[2 * i]!,
      controllerPort: ports[2 * i + 1]!,
      dir: join(dir, `node-${i + 1}`),
      pid: null,
    }));
    const cluster = new KafkaCluster(dir, nodes, cp, opts.heapMb ?? (count === 1 ? 1024 : 512), opts.detached ?? false);
    if (!cluster.detached) {
      live.add(cluster);
      hookExit();
    }
    try {
      const clusterId = randomClusterId();
      for (const n of nodes) {
        mkdirSync(n.dir, { recursive: true });
        writeFileSync(join(n.dir, "server.properties"), nodeConfig(n, nodes, opts.brokerProps ?? {}));
      }
      // Format every node's log dir at once (one JVM each; a bad property fails here).
      const formats = nodes.map((n) =>
        Bun.spawn(
          javaArgv(cp, 128, KAFKA_TOOLS.storage!, [
            "format",
            ...(count === 1 ? ["--standalone"] : []),
            "-t",
            clusterId,
            "-c",
            join(n.dir, "server.properties"),
          ]),
          { stdout: "pipe", stderr: "pipe" },
        ),
      );
      for (const [i, p] of formats.entries()) {
        if ((await p.exited) !== 0) throw new Error(`formatting node ${nodes[i]!.id} failed:\n${(await new Response(p.stderr).text()).slice(-2000)}`);
      }
      for (const n of nodes) cluster.launch(n);
      await cluster.waitForBrokers(count, opts.timeoutMs ?? 180_000);
      return cluster;
    } catch (e) {
      cluster.killNow();
      throw e;
    }
  }

  /** A cluster another process started detached (scripts/kafka.sh), from its state file. */
  static attach(state: ClusterState): KafkaCluster {
    const c = new KafkaCluster(state.dir, state.nodes, kafkaClasspath(), 0, true);
    for (const n of c.nodes) n.pid = n.pid && alive(n.pid) ? n.pid : null;
    return c;
  }

  state(): ClusterState {
    return { version: KAFKA_VERSION, dir: this.dir, bootstrap: this.bootstrap, nodes: this.nodes.map((n) => ({ ...n })) };
  }

  private launch(n: NodeInfo): void {
    const argv = javaArgv(this.cp, this.heapMb, "kafka.Kafka", [join(n.dir, "server.properties")]);
    const log = join(n.dir, "server.log");
    const p = Bun.spawn(this.detached ? ["setsid", ...argv] : [...dieWithParent(), ...argv], {
      stdin: "ignore",
      stdout: Bun.file(log),
      stderr: Bun.file(join(n.dir, "server.err")),
    });
    if (this.detached) p.unref();
    this.procs.set(n.id, p);
    n.pid = p.pid;
    writeFileSync(join(n.dir, "pid"), String(p.pid));
  }

  node(id: number): NodeInfo {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id} (have ${this.nodes.map((x) => x.id).join(", ")})`);
    return n;
  }

  /** Kill one node's JVM (SIGKILL: a crash; SIGTERM: a controlled shutdown) and wait for it. */
  async stopNode(id: number, signal: "SIGKILL" | "SIGTERM" = "SIGKILL", timeoutMs = 60_000): Promise<void> {
    const n = this.node(id);
    if (!n.pid) return;
    const pid = n.pid;
    process.kill(pid, signal);
    const p = this.procs.get(id);
    const deadline = Date.now() + timeoutMs;
    while (p ? p.exitCode === null && p.signalCode === null : alive(pid)) {
      if (Date.now() > deadline) {
        process.kill(pid, "SIGKILL");
        break;
      }
      await Bun.sleep(50);
    }
    if (p) await p.exited;
    n.pid = null;
    this.procs.delete(id);
  }

  /** Start a stopped node again with its data (a restart after a crash). */
  async startNode(id: number, waitMs = 180_000): Promise<void> {
    const n = this.node(id);
    if (n.pid) throw new Error(`node ${id} is running`);
    this.launch(n);
    // The node itself must answer on its listener: right after a SIGKILL the others still list
    // it (until its session times out, 9 s), so the cluster's metadata alone says nothing.
    await this.waitFor(
      waitMs,
      `node ${id} to rejoin and answer on 127.0.0.1:${n.port}`,
      () => this.metadata(2000, undefined, [n.port])?.brokers.some((b) => b.id === id) ?? false,
    );
  }

  /** Cluster metadata as kcat sees it (through `ports`, default every running node), or null when no broker answers in time. */
  metadata(timeoutMs = 5000, topic?: string, ports?: number[]): KcatMetadata | null {
    const live = (ports ?? this.nodes.filter((n) => n.pid).map((n) => n.port)).map((p) => `127.0.0.1:${p}`);
    if (!live.length) return null;
    const r = Bun.spawnSync(["kcat", "-L", "-J", "-b", live.join(","), "-m", String(Math.ceil(timeoutMs / 1000)), ...(topic ? ["-t", topic] : [])], {
      stdout: "pipe",
      stderr: "pipe",
    });
    if (r.exitCode !== 0) return null;
    try {
      return JSON.parse(r.stdout.toString()) as KcatMetadata;
    } catch {
      return null;
    }
  }

  async waitForBrokers(count: number, timeoutMs = 90_000): Promise<void> {
    await this.waitFor(timeoutMs, `${count} broker(s) in the metadata`, () => (this.metadata(2000)?.brokers.length ?? 0) >= count);
  }

  /** Wait until every partition of `topic` has a leader and `isr` in-sync replicas. */
  async waitForIsr(topic: string, isr: number, timeoutMs = 60_000): Promise<void> {
    await this.waitFor(timeoutMs, `every partition of ${topic} with ${isr} in-sync replicas`, () => {
      const t = this.metadata(2000, topic)?.topics.find((x) => x.topic === topic);
      return !!t && !t.error && t.partitions.length > 0 && t.partitions.every((p) => p.leader > 0 && p.isrs.length >= isr);
    });
  }

  /** The broker that leads the most partitions of `topic` (ties: the lowest id). */
  busiestLeader(topic: string): number {
    const t = this.metadata(5000, topic)?.topics.find((x) => x.topic === topic);
    if (!t) throw new Error(`no metadata for ${topic}`);
    const counts = new Map<number, number>();
    for (const p of t.partitions) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
  }

  private async waitFor(timeoutMs: number, what: string, ok: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (ok()) return;
      for (const n of this.nodes) {
        const p = this.procs.get(n.id);
        if (p && p.exitCode !== null) throw new Error(`Kafka node ${n.id} exited with ${p.exitCode} while waiting for ${what}:\n${this.logTail(n.id)}`);
      }
      await Bun.sleep(250);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.nodes.map((n) => `node ${n.id}: ${this.logTail(n.id)}`).join("\n")}`);
  }

  logTail(id: number, chars = 1500): string {
    const n = this.node(id);
    return ["server.log", "server.err"].map((f) => (existsSync(join(n.dir, f)) ? readFileSync(join(n.dir, f), "utf8").slice(-chars) : "")).join("");
  }

  /**
   * Run one of Kafka's own tools (KAFKA_TOOLS name or a main class) against this cluster's jars,
   * to completion. A JVM start costs 1-3 s.
   */
  tool(name: string, args: string[], opts: { timeoutMs?: number; stdin?: string; heapMb?: number } = {}): ToolResult {
    return runKafkaTool(name, args, { ...opts, cp: this.cp });
  }

  /** Start one of Kafka's tools in the background (it dies with this process). */
  spawnTool(name: string, args: string[], opts: { heapMb?: number } = {}): Subprocess<"ignore", "pipe", "pipe"> {
    return Bun.spawn([...dieWithParent(), ...toolArgv(this.cp, name, args, opts.heapMb)], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  }

  /** Stop every node and remove the cluster's directory. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stopNode(n.id, this.detached ? "SIGTERM" : "SIGKILL", 30_000)));
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }

  /** Synchronous teardown for exit and signal handlers. */
  killNow(): void {
    for (const n of this.nodes) {
      if (n.pid && alive(n.pid)) process.kill(n.pid, "SIGKILL");
      n.pid = null;
    }
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}

/** argv of one of Kafka's tools (KAFKA_TOOLS name or main class) on the harness's jars. */
export function toolArgv(cp: string, name: string, args: string[], heapMb = 256): string[] {
  const main = KAFKA_TOOLS[name] ?? name;
  // A client tool starts faster with the C1 compiler only; the perf tools keep the full JIT.
  const quick = name.endsWith("perf-test") ? [] : ["-XX:TieredStopAtLevel=1"];
  return ["java", ...shareArgs(), `-Xmx${heapMb}m`, ...quick, `-Dlog4j2.configurationFile=${LOG4J}`, "-cp", cp, main, ...args];
}

/**
 * Make the class-data-sharing archive once (scripts/setup.sh): a single node is formatted,
 * started with -XX:ArchiveClassesAtExit, asked for its metadata and a topic, and stopped with
 * SIGTERM, at which the JVM writes the classes it loaded. About 10 s; a failure only costs the
 * speed-up.
 */
export async function buildClassArchive(): Promise<string | null> {
  const jsa = classArchive();
  if (existsSync(jsa)) return jsa;
  const cp = kafkaClasspath();
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  const tmp = `${jsa}.${process.pid}.tmp`;
  try {
    const [port, controllerPort] = freePorts(2);
    const n: NodeInfo = { id: 1, port: port!, controllerPort: controllerPort!, dir: join(dir, "node-1"), pid: null };
    mkdirSync(n.dir, { recursive: true });
    const conf = join(n.dir, "server.properties");
    writeFileSync(conf, nodeConfig(n, [n], {}));
    const fmt = Bun.spawnSync(javaArgv(cp, 128, KAFKA_TOOLS.storage!, ["format", "--standalone", "-t", randomClusterId(), "-c", conf], []), {
      stdout: "pipe",
      stderr: "pipe",
    });
    if (fmt.exitCode !== 0) return null;
    const p = Bun.spawn([...dieWithParent(), ...javaArgv(cp, 512, "kafka.Kafka", [conf], [`-XX:ArchiveClassesAtExit=${tmp}`, "-Xlog:disable"])], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
    });
    const bootstrap = `127.0.0.1:${n.port}`;
    const deadline = Date.now() + 120_000;
    let up = false;
    while (!up && Date.now() < deadline && p.exitCode === null) {
      up = Bun.spawnSync(["kcat", "-L", "-b", bootstrap, "-m", "2"], { stdout: "pipe", stderr: "pipe" }).exitCode === 0;
      if (!up) await Bun.sleep(250);
    }
    if (up)
      Bun.spawnSync(["kcat", "-P", "-b", bootstrap, "-t", "warm-up", "-z", "lz4"], {
        stdin: new TextEncoder().encode("a\nb\n"),
        stdout: "ignore",
        stderr: "ignore",
      });
    p.kill("SIGTERM");
    await p.exited;
    if (!up || !existsSync(tmp)) return null;
    Bun.spawnSync(["mv", tmp, jsa]);
    return jsa;
  } finally {
    rmSync(tmp, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run one of Kafka's tools to completion (see KafkaCluster.tool). */
export function runKafkaTool(name: string, args: string[], opts: { timeoutMs?: number; stdin?: string; heapMb?: number; cp?: string } = {}): ToolResult {
  const r = Bun.spawnSync(toolArgv(opts.cp ?? kafkaClasspath(), name, args, opts.heapMb), {
    stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 120_000,
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

export interface KcatMetadata {
  brokers: { id: number; name: string }[];
  controllerid: number;
  topics: { topic: string; error?: string; partitions: { partition: number; leader: number; replicas: { id: number }[]; isrs: { id: number }[] }[] }[];
}
