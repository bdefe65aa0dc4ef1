/**
 * Schema Registry wire format and content-type headers, against a real Kafka 4.4 (tools/kafka)
 * and a real registry (Apicurio Registry's Confluent-compatible API, tools/registry), checked
 * with readers and writers nobody here wrote: @kafkajs/confluent-schema-registry, kcat.
 */
import { expect, beforeAll, afterAll } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SchemaRegistry as ConfluentRegistry } from "@kafkajs/confluent-schema-registry";
import { sharedKafka4, type KafkaCluster } from "../helpers/kafka4.ts";
import { registryTest, sharedRegistry, type SchemaRegistry } from "../helpers/registry.ts";
import { runIngest, spawnIngest, ROOT } from "../helpers/cli.ts";
import { uniqueName } from "../helpers/broker.ts";
import { createDb, type TestDb } from "../helpers/stores.ts";
import { Producer } from "../../src/kafka/index.ts";

let k: KafkaCluster;
let reg: SchemaRegistry;
let dir: string;
let db: TestDb | undefined;
const USERS_SCHEMA = JSON.parse(readFileSync(join(ROOT, "data/users.avsc"), "utf8"));
/** users.avsc plus an optional field with a default: a BACKWARD-compatible next version. */
const USERS_V2 = { ...USERS_SCHEMA, fields: [...USERS_SCHEMA.fields, { name: "nickname", type: ["null", "string"], default: null }] };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ingest-sr-"));
  [k, reg] = await Promise.all([sharedKafka4(), sharedRegistry()]);
}, 400_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await db?.drop();
});

async function topic(prefix: string, partitions = 3): Promise<string> {
  const t = uniqueName(prefix);
  const r = await runIngest(["topic", "create", t, "--partitions", String(partitions), "-b", k.bootstrap]);
  expect(r.code).toBe(0);
  return t;
}

async function gen(rows: number, name: string): Promise<string> {
  const file = join(dir, `${name}.csv`);
  const r = await runIngest(["gen", "users", "--rows", String(rows), "--out", file, "--seed", String(rows)]);
  expect(r.code).toBe(0);
  return file;
}

/** Every record of a topic as raw bytes with its key and headers (kcat: a text line of lengths and headers, then the bytes). */
function rawRecords(t: string): { key: string; value: Buffer; headers: Record<string, string> }[] {
  const r = Bun.spawnSync(["kcat", "-C", "-b", k.bootstrap, "-t", t, "-e", "-q", "-f", "%K %S %h\n%k%s"], { stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(0);
  const buf = r.stdout;
  const out: { key: string; value: Buffer; headers: Record<string, string> }[] = [];
  let p = 0;
  while (p < buf.length) {
    const nl = buf.indexOf(10, p);
    const line = buf.subarray(p, nl).toString();
    const [klen, vlen] = line.split(" ", 2) as [string, string];
    // The headers are the rest of the line (a value may hold spaces: "avro/binary; schema=...").
    const hdrs = line.slice(klen.length + vlen.length + 2);
    p = nl + 1;
    const kl = Math.max(0, Number(klen));
    const vl = Math.max(0, Number(vlen));
    const key = buf.subarray(p, p + kl).toString();
    const value = Buffer.from(buf.subarray(p + kl, p + kl + vl));
    p += kl + vl;
    const headers = Object.fromEntries(
      hdrs
        .split(",")
        .filter(Boolean)
        .map((h) => [h.slice(0, h.indexOf("=")), h.slice(h.indexOf("=") + 1)]),
    );
    out.push({ key, value, headers });
  }
  return out;
}

function confluent(): ConfluentRegistry {
  return new ConfluentRegistry({ host: reg.url });
}

registryTest(
  "ingest produce --schema-registry writes the wire format: @kafkajs/confluent-schema-registry decodes every record equal to the source row",
  async () => {
    const t = await topic("sr-out");
    const csv = await gen(3000, "sr-out");
    const jsonOut = join(dir, "sr-out.ndjson");
    const r = await runIngest([
      "produce",
      "--file",
      csv,
      "--topic",
      t,
      "--format",
      "avro",
      "--schema-registry",
      reg.url,
      "--json-out",
      jsonOut,
      "--workers",
      "2",
      "-b",
      k.bootstrap,
    ]);
    expect(r.stderr).toContain("produce OK");
    expect(r.code).toBe(0);
    const source = new Map(
      readFileSync(jsonOut, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .map((u) => [String(u.id), u]),
    );
    expect(source.size).toBe(3000);
    const recs = rawRecords(t);
    expect(recs.length).toBe(3000);
    const sub = (await (await fetch(`${reg.url}/subjects/${t}-value/versions/latest`)).json()) as { id: number; version: number };
    const lib = confluent();
    for (const rec of recs) {
      expect(rec.value[0]).toBe(0);
      expect(rec.value.readUInt32BE(1)).toBe(sub.id);
      expect(rec.headers["content-type"]).toBe(`avro/binary; schema=ingest.User; schema-id=${sub.id}; version=${sub.version}`);
      const decoded = await lib.decode(rec.value);
      expect(decoded).toEqual(source.get(rec.key));
    }
  },
  180_000,
);

registryTest(
  "records the library encodes (two schema versions) are read by ingest consume into MariaDB, equal to what was encoded",
  async () => {
    const t = await topic("sr-in");
    db = await createDb("sr");
    const lib = confluent();
    const v1 = await lib.register({ type: "AVRO", schema: JSON.stringify(USERS_SCHEMA) } as never, { subject: `${t}-value` });
    const v2 = await lib.register({ type: "AVRO", schema: JSON.stringify(USERS_V2) } as never, { subject: `${t}-value` });
    expect(v2.id).not.toBe(v1.id);
    const users = Array.from({ length: 400 }, (_, i) => ({
      id: 10_000 + i,
      first_name: `Zoë ${i}`,
      last_name: 'O\'Brien, "Jr"',
      email: `u${i}@x.test`,
      age: 20 + (i % 50),
      country: "DE",
      city: "München",
      signup_ts: 1_700_000_000_000 + i,
      is_active: i % 3 === 0,
      score: i / 8,
      phone: i % 2 ? null : `+49-${i}`,
    }));
    const p = new Producer({ "bootstrap.servers": k.bootstrap });
    try {
      for (const [i, u] of users.entries()) {
        // Even ones as the old schema, odd ones as the new one with its added field.
        const value = i % 2 === 0 ? await lib.encode(v1.id, u) : await lib.encode(v2.id, { ...u, nickname: `nick${i}` });
        p.produce(t, String(u.id), new Uint8Array(value));
      }
      expect(await p.flush(30_000)).toBe(true);
    } finally {
      p.destroy();
    }
    const r = await runIngest(
      [
        "consume",
        "--topics",
        t,
        "--kinds",
        `users=${t}`,
        "--format",
        "avro",
        "--schema-registry",
        reg.url,
        "--sink",
        "mysql",
        "--group",
        uniqueName("g"),
        "--max-messages",
        "400",
        "--idle-exit-ms",
        "20000",
        "-b",
        k.bootstrap,
      ],
      {
        env: { MYSQL_URL: db.url },
        timeoutMs: 90_000,
      },
    );
    expect(r.stderr).toContain("written 400");
    expect(r.code).toBe(0);
    const [rows] = (await db.conn.query(
      "SELECT id, first_name, last_name, email, age, country, city, is_active, score, phone FROM users ORDER BY id",
    )) as unknown as [Record<string, unknown>[]];
    expect(rows.length).toBe(400);
    for (const [i, row] of rows.entries()) {
      const u = users[i]!;
      const got: Record<string, unknown> = { ...row, is_active: Boolean(row.is_active), score: Number(row.score), id: Number(row.id) };
      expect(got).toEqual({
        id: u.id,
        first_name: u.first_name,
        last_name: u.last_name,
        email: u.email,
        age: u.age,
        country: u.country,
        city: u.city,
        is_active: u.is_active,
        score: u.score,
        phone: u.phone,
      });
    }
  },
  180_000,
);

registryTest(
  "schema evolution from ingest's side: a schema with an added optional field is registered as a new version; the library and ingest consume read both",
  async () => {
    const t = await topic("sr-evo");
    const csv = await gen(200, "sr-evo");
    const v2File = join(dir, "users-v2.avsc");
    writeFileSync(v2File, JSON.stringify(USERS_V2));
    const a = await runIngest(["produce", "--file", csv, "--topic", t, "--format", "avro", "--schema-registry", reg.url, "-b", k.bootstrap]);
    expect(a.code).toBe(0);
    const b = await runIngest([
      "produce",
      "--file",
      csv,
      "--topic",
      t,
      "--format",
      "avro",
      "--schema",
      v2File,
      "--schema-registry",
      reg.url,
      "-b",
      k.bootstrap,
    ]);
    expect(b.stderr).toContain("produce OK");
    expect(b.code).toBe(0);
    const versions = (await (await fetch(`${reg.url}/subjects/${t}-value/versions`)).json()) as number[];
    expect(versions.length).toBe(2);
    const recs = rawRecords(t);
    expect(recs.length).toBe(400);
    const ids = new Set(recs.map((r) => r.value.readUInt32BE(1)));
    expect(ids.size).toBe(2);
    const lib = confluent();
    const withNick = (await Promise.all(recs.map((r) => lib.decode(r.value)))).filter((u) => "nickname" in u);
    expect(withNick.length).toBe(200);
    expect(withNick.every((u) => u.nickname === null)).toBe(true);
    const c = await runIngest(
      [
        "consume",
        "--topics",
        t,
        "--kinds",
        `users=${t}`,
        "--format",
        "avro",
        "--schema-registry",
        reg.url,
        "--sink",
        "none",
        "--group",
        uniqueName("g"),
        "--max-messages",
        "400",
        "--idle-exit-ms",
        "20000",
        "-b",
        k.bootstrap,
      ],
      { timeoutMs: 90_000 },
    );
    expect(c.stderr).toMatch(/written 400 .*poison 0/);
    expect(c.code).toBe(0);
  },
  180_000,
);

registryTest(
  "an incompatible schema is refused with the registry's message before anything is sent",
  async () => {
    const t = await topic("sr-incompat");
    const csv = await gen(50, "sr-incompat");
    const ok = await runIngest(["produce", "--file", csv, "--topic", t, "--format", "avro", "--schema-registry", reg.url, "-b", k.bootstrap]);
    expect(ok.code).toBe(0);
    // age as a string: a reader of the old schema (int) cannot read it.
    const bad = join(dir, "users-bad.avsc");
    writeFileSync(
      bad,
      JSON.stringify({ ...USERS_SCHEMA, fields: USERS_SCHEMA.fields.map((f: { name: string }) => (f.name === "age" ? { name: "age", type: "string" } : f)) }),
    );
    const r = await runIngest(["produce", "--file", csv, "--topic", t, "--format", "avro", "--schema", bad, "--schema-registry", reg.url, "-b", k.bootstrap]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refused the schema for subject '${t}-value' (incompatible)`);
    expect(r.stderr).toMatch(/Incompatible artifact|not compatible/);
    expect(r.stderr).not.toContain("produce OK");
    expect(rawRecords(t).length).toBe(50);
  },
  120_000,
);

registryTest(
  "RecordNameStrategy registers under the record's full name",
  async () => {
    const t = await topic("sr-rns");
    const csv = await gen(20, "sr-rns");
    const r = await runIngest([
      "produce",
      "--file",
      csv,
      "--topic",
      t,
      "--format",
      "avro",
      "--schema-registry",
      reg.url,
      "--subject-strategy",
      "record",
      "-b",
      k.bootstrap,
    ]);
    expect(r.code).toBe(0);
    const subjects = (await (await fetch(`${reg.url}/subjects`)).json()) as string[];
    expect(subjects).toContain("ingest.User");
    expect(subjects).not.toContain(`${t}-value`);
  },
  120_000,
);

registryTest(
  "bad input: a registry that does not answer, a 401, and credentials that never show",
  async () => {
    const t = await topic("sr-bad");
    const csv = await gen(20, "sr-bad");
    const dead = await runIngest([
      "produce",
      "--file",
      csv,
      "--topic",
      t,
      "--format",
      "avro",
      "--schema-registry",
      "http://127.0.0.1:9/apis/ccompat/v7",
      "-b",
      k.bootstrap,
    ]);
    expect(dead.code).toBe(1);
    expect(dead.stderr).toContain("schema registry http://127.0.0.1:9/apis/ccompat/v7 does not answer");
    // A proxy in front of the registry that wants basic auth.
    const secret = "s3cr3t-pa55";
    const proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        if (req.headers.get("authorization") !== `Basic ${Buffer.from(`alice:${secret}`).toString("base64")}`)
          return Response.json({ error_code: 40101, message: "Unauthorized" }, { status: 401 });
        const u = new URL(req.url);
        return fetch(`${reg.url}${u.pathname.replace(/^\/sr/, "")}${u.search}`, {
          method: req.method,
          headers: { "content-type": "application/json" },
          body: req.method === "GET" ? undefined : await req.text(),
        });
      },
    });
    try {
      const url = `http://127.0.0.1:${proxy.port}/sr`;
      const noAuth = await runIngest(["produce", "--file", csv, "--topic", t, "--format", "avro", "--schema-registry", url, "-b", k.bootstrap]);
      expect(noAuth.code).toBe(1);
      expect(noAuth.stderr).toContain("refused the credentials (401");
      const conf = join(dir, "sr.properties");
      writeFileSync(conf, `basic.auth.user.info=alice:${secret}\n`);
      const withFile = await runIngest([
        "produce",
        "--file",
        csv,
        "--topic",
        t,
        "--format",
        "avro",
        "--schema-registry",
        url,
        "--schema-registry-config",
        conf,
        "-b",
        k.bootstrap,
        "--log-level",
        "debug",
      ]);
      expect(withFile.stderr).toContain("produce OK");
      const inUrl = await runIngest([
        "produce",
        "--file",
        csv,
        "--topic",
        t,
        "--format",
        "avro",
        "--schema-registry",
        `http://alice:${secret}@127.0.0.1:${proxy.port}/sr`,
        "-b",
        k.bootstrap,
        "--log-level",
        "debug",
      ]);
      expect(inUrl.stderr).toContain("produce OK");
      for (const out of [noAuth, withFile, inUrl]) expect(out.stderr + out.stdout).not.toContain(secret);
      const wrong = await runIngest([
        "produce",
        "--file",
        csv,
        "--topic",
        t,
        "--format",
        "avro",
        "--schema-registry",
        `http://alice:nope@127.0.0.1:${proxy.port}/sr`,
        "-b",
        k.bootstrap,
      ]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain("refused the credentials (401)");
      expect(wrong.stderr).not.toContain("nope");
    } finally {
      proxy.stop(true);
    }
    const usage = await runIngest(["produce", "--file", csv, "--topic", t, "--format", "json", "--schema-registry", reg.url, "-b", k.bootstrap]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("only --format avro");
  },
  120_000,
);

registryTest(
  "consume: a bad magic byte, an unknown schema id and a registry that does not answer go to the DLQ with the reason; the good records are written",
  async () => {
    const t = await topic("sr-dlq", 1);
    const lib = confluent();
    const { id } = await lib.register({ type: "AVRO", schema: JSON.stringify(USERS_SCHEMA) } as never, { subject: `${t}-value` });
    const user = (i: number) => ({
      id: i,
      first_name: "A",
      last_name: "B",
      email: `${i}@x.test`,
      age: 30,
      country: "FR",
      city: "Lyon",
      signup_ts: 1,
      is_active: true,
      score: 1.5,
      phone: null,
    });
    const good = await lib.encode(id, user(1));
    const badMagic = Buffer.from(good);
    badMagic[0] = 7;
    const unknownId = Buffer.from(good);
    unknownId.writeUInt32BE(987_654, 1);
    const p = new Producer({ "bootstrap.servers": k.bootstrap });
    try {
      p.produce(t, "1", new Uint8Array(good));
      p.produce(t, "2", new Uint8Array(badMagic));
      p.produce(t, "3", new Uint8Array(unknownId));
      p.produce(t, "4", new Uint8Array(await lib.encode(id, user(4))));
      p.produce(t, "5", new Uint8Array([0, 0, 0])); // too short for a wire header
      expect(await p.flush(30_000)).toBe(true);
    } finally {
      p.destroy();
    }
    const args = (registry: string, group: string) => [
      "consume",
      "--topics",
      t,
      "--kinds",
      `users=${t}`,
      "--format",
      "avro",
      "--schema-registry",
      registry,
      "--sink",
      "none",
      "--group",
      group,
      "--max-messages",
      "5",
      "--idle-exit-ms",
      "20000",
      "-b",
      k.bootstrap,
    ];
    const r = await runIngest(args(reg.url, uniqueName("g")), { timeoutMs: 90_000 });
    expect(r.stderr).toMatch(/written 2 .*poison 3 \(dlq 3\)/);
    expect(r.code).toBe(0);
    const dlq = Bun.spawnSync(["kcat", "-C", "-b", k.bootstrap, "-t", `${t}.dlq`, "-e", "-q", "-f", "%k %h\n"], { stdout: "pipe" })
      .stdout.toString()
      .trim()
      .split("\n")
      .sort();
    expect(dlq.length).toBe(3);
    expect(dlq[0]).toMatch(/^2 .*ingest\.error=undecodable avro: not schema-registry framed: magic byte 7, expected 0/);
    expect(dlq[1]).toMatch(/^3 .*ingest\.error=undecodable avro: unknown schema id 987654/);
    expect(dlq[2]).toMatch(/^5 .*ingest\.error=undecodable avro: not schema-registry framed: 3 bytes/);
    // The registry down: every framed record goes to the DLQ saying so, and consuming goes on to the end.
    const down = await runIngest(args("http://127.0.0.1:9/apis/ccompat/v7", uniqueName("g")), { timeoutMs: 90_000 });
    expect(down.stderr).toMatch(/written 0 .*poison 5 \(dlq 5\)/);
    expect(down.code).toBe(0);
    const reasons = Bun.spawnSync(["kcat", "-C", "-b", k.bootstrap, "-t", `${t}.dlq`, "-e", "-q", "-f", "%k %h\n"], { stdout: "pipe" }).stdout.toString();
    expect(reasons).toMatch(/\n?1 .*schema id \d+ not fetched: schema registry http:\/\/127\.0\.0\.1:9\/apis\/ccompat\/v7 does not answer/);
  },
  180_000,
);

registryTest(
  "content-type headers: one topic carrying JSON, MessagePack and Avro records is consumed by the header of each, whatever --format says",
  async () => {
    const t = await topic("ct-mixed");
    const csv = await gen(300, "ct-mixed");
    for (const format of ["json", "msgpack", "avro"]) {
      const r = await runIngest(["produce", "--file", csv, "--topic", t, "--format", format, "-b", k.bootstrap]);
      expect(r.code).toBe(0);
    }
    const types = rawRecords(t).map((r) => r.headers["content-type"]);
    expect(types.filter((x) => x === "application/json; schema=ingest.User").length).toBe(300);
    expect(types.filter((x) => x === "application/msgpack; schema=ingest.User").length).toBe(300);
    expect(types.filter((x) => x === "avro/binary; schema=ingest.User").length).toBe(300);
    for (const format of ["json", "msgpack"]) {
      const c = await runIngest(
        [
          "consume",
          "--topics",
          t,
          "--kinds",
          `users=${t}`,
          "--format",
          format,
          "--sink",
          "none",
          "--group",
          uniqueName("g"),
          "--max-messages",
          "900",
          "--idle-exit-ms",
          "20000",
          "-b",
          k.bootstrap,
        ],
        { timeoutMs: 90_000 },
      );
      expect(c.stderr).toMatch(/written 900 .*poison 0/);
      expect(c.code).toBe(0);
    }
  },
  180_000,
);

registryTest(
  "serve --schema-registry publishes orders and users in the wire format, decoded by the library as what was posted",
  async () => {
    const orders = await topic("sr-serve-orders");
    const users = await topic("sr-serve-users");
    const user = {
      id: 77,
      first_name: "Zoë",
      last_name: "Ng",
      email: "z@x.test",
      age: 31,
      country: "NZ",
      city: "Auckland",
      signup_ts: 1_700_000_000_000,
      is_active: true,
      score: 2.5,
      phone: null,
    };
    let id1 = "";
    const p = spawnIngest(["serve", "--port", "0", "-b", k.bootstrap, "--orders-topic", orders, "--users-topic", users, "--schema-registry", reg.url]);
    try {
      const reader = p.stdout.getReader();
      const { value } = await reader.read();
      reader.releaseLock();
      const m = /listening on (http:\/\/\S+)/.exec(new TextDecoder().decode(value));
      if (!m) throw new Error(`serve did not start: ${await new Response(p.stderr).text()}`);
      const url = m[1]!;
      const one = { customer_id: "c1", product_id: "P0001", quantity: 2, amount: 19.5, currency: "EUR" };
      const r1 = await fetch(`${url}/order`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(one) });
      expect(r1.status).toBe(202);
      id1 = ((await r1.json()) as { order_id: string }).order_id;
      const batch = Array.from({ length: 20 }, (_, i) => ({ customer_id: `c${i}`, product_id: `P000${1 + (i % 9)}`, quantity: 1 + i, amount: i * 1.25 }));
      const r2 = await fetch(`${url}/orders/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(batch) });
      expect(r2.status).toBe(202);
      const r3 = await fetch(`${url}/users`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(user) });
      expect(r3.status).toBe(202);
    } finally {
      p.kill("SIGTERM");
      await p.exited;
    }
    const lib = confluent();
    const got = rawRecords(orders);
    expect(got.length).toBe(21);
    const decoded = await Promise.all(got.map((r) => lib.decode(r.value)));
    for (const r of got) expect(r.headers["content-type"]).toBe("avro/binary");
    expect(decoded.find((o) => o.order_id === id1)).toMatchObject({ customer_id: "c1", product_id: "P0001", quantity: 2, amount: 19.5, currency: "EUR" });
    expect(decoded.filter((o) => o.currency === "USD").length).toBe(20);
    const u = rawRecords(users);
    expect(u.length).toBe(1);
    expect(await lib.decode(u[0]!.value)).toEqual(user);
  },
  180_000,
);
