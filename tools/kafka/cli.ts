/**
 * scripts/kafka.sh's commands: a real local Apache Kafka 4.4 without Docker (see cluster.ts).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KafkaCluster, KAFKA_TOOLS, KAFKA_VERSION, kafkaClasspath, toolArgv, buildClassArchive, type ClusterState } from "./cluster.ts";

const STATE = join(import.meta.dir, "..", "..", ".cache", "kafka4", "cluster.json");

const HELP = `scripts/kafka.sh: a real Apache Kafka ${KAFKA_VERSION} (KRaft) on 127.0.0.1, from Maven Central's jars

Usage: bash scripts/kafka.sh <command> [options]

Commands:
  start [--nodes 1|3] [--set key=value ...]
                 start a fresh cluster in the background (random free ports, a fresh log dir),
                 wait until every broker answers, print its bootstrap servers; one cluster at a
                 time (its state is kept in .cache/kafka4/cluster.json)
  run [--nodes 1|3] [--set key=value ...]
                 the same in the foreground: Ctrl-C stops it and removes its data
  stop           stop the started cluster (controlled shutdown) and remove its data
  status         the started cluster's bootstrap servers and brokers, or "not running"
  env            print 'export KAFKA_BOOTSTRAP_SERVERS=...' for the started cluster
  tool NAME ARGS run one of Kafka's own tools with the cluster's jars; NAME is one of
                 ${Object.keys(KAFKA_TOOLS).join(", ")}
                 or a main class (e.g. tool console-consumer --bootstrap-server HOST:PORT --topic T)
  classpath      resolve Kafka's jars (Maven, once) and print the classpath
  prepare        resolve the jars and make the JVMs' class-data-sharing archive (setup.sh does)

--nodes 1 is one combined broker+controller (replication factor 1); --nodes 3 is a three-node
quorum with replication factor 3 and min.insync.replicas=2 (about 1.5 GB of heap in all).
--set key=value adds a broker property to every node.`;

function parse(args: string[]): { nodes: 1 | 3; props: Record<string, string> } {
  let nodes: 1 | 3 = 1;
  const props: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--nodes") {
      const v = args[++i];
      if (v !== "1" && v !== "3") usage(`--nodes must be 1 or 3 (got ${v ?? "nothing"})`);
      nodes = Number(v) as 1 | 3;
    } else if (a === "--set") {
      const kv = args[++i] ?? "";
      const eq = kv.indexOf("=");
      if (eq <= 0) usage(`--set expects key=value (got '${kv}')`);
      props[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else usage(`unknown option '${a}'`);
  }
  return { nodes, props };
}

function usage(msg: string): never {
  console.error(`kafka.sh: ${msg} (bash scripts/kafka.sh --help)`);
  process.exit(2);
}

function readState(): ClusterState | null {
  return existsSync(STATE) ? (JSON.parse(readFileSync(STATE, "utf8")) as ClusterState) : null;
}

function running(s: ClusterState): boolean {
  return s.nodes.some((n) => {
    try {
      return n.pid !== null && (process.kill(n.pid, 0), true);
    } catch {
      return false;
    }
  });
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case "-h":
    case "--help":
    case "help":
      console.log(HELP);
      return cmd === undefined ? 2 : 0;
    case "classpath":
      console.log(kafkaClasspath());
      return 0;
    case "prepare": {
      // scripts/setup.sh: the jars, and the class-data-sharing archive that halves JVM starts.
      const cp = kafkaClasspath();
      const jsa = await buildClassArchive();
      console.error(`kafka.sh: ${cp.split(":").length} jars on the classpath; class archive ${jsa ?? "not made (JVMs start without it)"}`);
      return 0;
    }
    case "start":
    case "run": {
      const { nodes, props } = parse(rest);
      const old = readState();
      if (cmd === "start" && old && running(old)) {
        console.error(`kafka.sh: a cluster is already running at ${old.bootstrap} (bash scripts/kafka.sh stop first)`);
        return 1;
      }
      const t0 = performance.now();
      console.error(`kafka.sh: starting Kafka ${KAFKA_VERSION}, ${nodes} node(s)...`);
      const c = await KafkaCluster.start({ nodes, brokerProps: props, detached: cmd === "start" });
      console.error(`kafka.sh: ${nodes} broker(s) answering after ${((performance.now() - t0) / 1000).toFixed(1)} s; data in ${c.dir}`);
      if (cmd === "start") {
        mkdirSync(join(STATE, ".."), { recursive: true });
        writeFileSync(STATE, JSON.stringify(c.state(), null, 2));
        console.log(c.bootstrap);
        return 0;
      }
      console.log(c.bootstrap);
      console.error("kafka.sh: running in the foreground; Ctrl-C stops it");
      await new Promise(() => {}); // until a signal; cluster.ts's handlers stop the nodes
      return 0;
    }
    case "stop": {
      const s = readState();
      if (!s) {
        console.error("kafka.sh: no cluster was started with 'kafka.sh start'");
        return 0;
      }
      await KafkaCluster.attach(s).stop();
      rmSync(STATE, { force: true });
      console.error(`kafka.sh: stopped ${s.bootstrap}`);
      return 0;
    }
    case "status": {
      const s = readState();
      if (!s || !running(s)) {
        console.log("not running");
        return 1;
      }
      const md = KafkaCluster.attach(s).metadata(3000);
      console.log(
        `Kafka ${s.version} at ${s.bootstrap}: ${md ? `${md.brokers.length} broker(s) answering (${md.brokers.map((b) => `${b.id}@${b.name}`).join(", ")})` : "no broker answers"}`,
      );
      return md ? 0 : 1;
    }
    case "env": {
      const s = readState();
      if (!s || !running(s)) {
        console.error("kafka.sh: not running (bash scripts/kafka.sh start)");
        return 1;
      }
      console.log(`export KAFKA_BOOTSTRAP_SERVERS=${s.bootstrap}`);
      return 0;
    }
    case "tool": {
      const [name, ...args] = rest;
      if (!name) usage("tool needs a NAME");
      const r = Bun.spawn(toolArgv(kafkaClasspath(), name, args, 512), { stdio: ["inherit", "inherit", "inherit"] });
      return await r.exited;
    }
    default:
      usage(`unknown command '${cmd}'`);
  }
}

process.exit(await main(process.argv.slice(2)));
