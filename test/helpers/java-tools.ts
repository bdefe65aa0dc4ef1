/**
 * Reading what Kafka's own Java tools print, for tests that check ingest with clients nobody
 * here wrote (ConsoleConsumer, ConsumerGroupCommand) against the Kafka 4.4 harness.
 */
import type { KafkaCluster } from "./kafka4.ts";

export interface JavaRecord {
  partition: number;
  offset: number;
  headers: Record<string, string>;
  key: string | null;
  /** The value's bytes (printed by Kafka's Bytes.toString: printable ASCII as is, others \xNN). */
  value: Uint8Array;
}

/** Undo org.apache.kafka.common.utils.Bytes#toString (printable ASCII kept, the rest as \xNN). */
export function unescapeBytes(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\\" && s[i + 1] === "x") {
      out.push(parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else out.push(s.charCodeAt(i));
  }
  return Uint8Array.from(out);
}

/**
 * Read up to `max` records of `topic` (or of the topics `extra` names with --include) from the beginning
 * (it stops 8 s after the last record when fewer arrive: ask for one more than expected to see extras) with Kafka's ConsoleConsumer, printing
 * partition, offset, headers and key; values through BytesDeserializer so binary survives.
 */
export async function javaConsume(k: KafkaCluster, topic: string, max: number, extra: string[] = []): Promise<JavaRecord[]> {
  const p = k.spawnTool("console-consumer", [
    "--bootstrap-server",
    k.bootstrap,
    ...(topic ? ["--topic", topic] : []),
    "--from-beginning",
    "--max-messages",
    String(max),
    "--timeout-ms",
    "8000",
    "--value-deserializer",
    "org.apache.kafka.common.serialization.BytesDeserializer",
    ...["print.key=true", "print.partition=true", "print.offset=true", "print.headers=true", "null.literal=<null>"].flatMap((x) => ["--formatter-property", x]),
    ...extra,
  ]);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`console-consumer ${topic} exited ${code}: ${err.slice(-1500)}`);
  const records: JavaRecord[] = [];
  for (const line of out.split("\n")) {
    if (!line.startsWith("Partition:")) continue;
    const [part, off, headers, key, ...rest] = line.split("\t");
    const h: Record<string, string> = {};
    if (headers !== "NO_HEADERS") {
      for (const kv of headers!.split(",")) {
        const i = kv.indexOf(":");
        h[kv.slice(0, i)] = kv.slice(i + 1);
      }
    }
    records.push({
      partition: Number(part!.slice("Partition:".length)),
      offset: Number(off!.slice("Offset:".length)),
      headers: h,
      key: key === "<null>" ? null : key!,
      value: unescapeBytes(rest.join("\t")),
    });
  }
  return records;
}

export interface GroupRow {
  topic: string;
  partition: number;
  current: number | null;
  logEnd: number;
  lag: number | null;
  consumerId: string;
}

/** ConsumerGroupCommand --describe: committed offset, log end and lag per partition. */
export function javaDescribeGroup(k: KafkaCluster, group: string): GroupRow[] {
  const r = k.tool("consumer-groups", ["--bootstrap-server", k.bootstrap, "--describe", "--group", group]);
  if (r.code !== 0) throw new Error(`consumer-groups --describe ${group} exited ${r.code}: ${r.stderr.slice(-1500)}`);
  const rows: GroupRow[] = [];
  const lines = r.stdout.split("\n").filter((l) => l.trim());
  const header = lines.findIndex((l) => /^GROUP\s+TOPIC\s+PARTITION/.test(l));
  for (const l of lines.slice(header + 1)) {
    const c = l.trim().split(/\s+/);
    if (c[0] !== group) continue;
    const num = (s: string) => (s === "-" ? null : Number(s));
    rows.push({ topic: c[1]!, partition: Number(c[2]), current: num(c[3]!), logEnd: Number(c[4]), lag: num(c[5]!), consumerId: c[6]! });
  }
  return rows;
}

/** ConsumerGroupCommand --describe --members: member count and partitions per member. */
export function javaGroupMembers(k: KafkaCluster, group: string): { consumerId: string; partitions: number }[] {
  const r = k.tool("consumer-groups", ["--bootstrap-server", k.bootstrap, "--describe", "--group", group, "--members"]);
  if (r.code !== 0) return [];
  const lines = r.stdout.split("\n").filter((l) => l.trim());
  const header = lines.findIndex((l) => /^GROUP\s+CONSUMER-ID/.test(l));
  if (header < 0) return [];
  const cols = lines[header]!.trim().split(/\s+/);
  const at = cols.indexOf("#PARTITIONS");
  return lines.slice(header + 1).map((l) => {
    const c = l.trim().split(/\s+/);
    return { consumerId: c[1]!, partitions: Number(c[at]) };
  });
}
