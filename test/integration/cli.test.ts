import { test, expect } from "bun:test";
import { mkdtempSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runIngest, spawnIngest, ingestArgv } from "../helpers/cli.ts";
import { kafkaConfig } from "../../src/cli/args.ts";
import { parseProperties } from "../../src/core/properties.ts";
import { brokerVersionProps } from "../../src/kafka/index.ts";
import { redactConfig, redactUrl } from "../../src/observability/log.ts";

const SUBCOMMANDS = ["broker", "topic", "produce", "consume", "serve", "load", "lag", "dashboard", "gen"];

test("--help lists every subcommand and exits 0", async () => {
  const r = await runIngest(["--help"]);
  expect(r.code).toBe(0);
  for (const s of SUBCOMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${s} `, "m"));
});

test("--version prints ingest's and librdkafka's versions", async () => {
  const r = await runIngest(["--version"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^ingest \d+\.\d+\.\d+$/m);
  expect(r.stdout).toMatch(/^librdkafka \d+\.\d+\.\d+$/m);
});

test("an unknown command, an unknown flag and a bad value are one-line errors with exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /^error: unknown command 'frobnicate'/],
    [["topic", "list", "--bogus"], /^error: unknown option '--bogus'\n$/],
    [["topic", "list", "-X", "no.such.prop=1"], /^error: unknown librdkafka property 'no.such.prop'\n$/],
    [["topic", "list", "-X", "compression.type=brotli"], /^error: librdkafka property 'compression.type': .*\n$/],
    [["topic", "list", "-X", "novalue"], /^error: -X expects key=value, got 'novalue'\n$/],
    [["broker", "--brokers", "many"], /^error: --brokers: expected an integer, got 'many'\n$/],
    [["topic", "list", "--log-level", "loud"], /^error: --log-level: 'loud' is not one of/],
    [["topic", "list", "--kafka-config", "/nonexistent/file"], /^error: --kafka-config: cannot read \/nonexistent\/file: ENOENT\n$/],
    [["load", "--url", "http://127.0.0.1:1/order", "--duration", "0s"], /^error: --duration: must be more than 0\n$/],
    [
      ["broker", "--bootstrap-file", "/nonexistent/dir/bf"],
      /^error: --bootstrap-file: cannot write \/nonexistent\/dir\/bf: directory \/nonexistent\/dir does not exist\n$/,
    ],
    [["broker", "--bootstrap-file", "/tmp"], /^error: --bootstrap-file: cannot write \/tmp: it is a directory\n$/],
    [["topic", "list", "-b", "", "--timeout-ms", "500"], /^error: --brokers: expected host:port\[,host:port...\], got ''\n$/],
    [["broker", "--topics", "users:3:2"], /^error: --topics: expected NAME or NAME:PARTITIONS, got 'users:3:2'\n$/], // the :2 was ignored
    [["serve", "--max-body", "0"], /^error: --max-body: must be at least 256 bytes, got '0'\n$/], // was accepted: every request a 413
    [["serve", "--max-body", "4GiB"], /^error: --max-body: must be at most 1073741824 bytes, got '4GiB'\n$/],
    [["gen", "users", "--rows", "-1"], /^error: option '--rows' is missing its value \(for a value starting with a dash use '--rows=-XYZ'\)\n$/],
  ];
  for (const [args, re] of cases) {
    const r = await runIngest(args);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).toMatch(re);
    expect(r.stderr).not.toContain("    at "); // no stack trace
  }
});

test("configuration precedence: defaults < environment < properties file < -X < --brokers", () => {
  const dir = mkdtempSync(join(tmpdir(), "ingest-conf-"));
  const file = join(dir, "k.properties");
  writeFileSync(file, "# comment\nbootstrap.servers=file:9092\nsecurity.protocol = SASL_SSL\nsasl.password: s3cret\nlinger.ms=7\n");
  const saved = process.env.KAFKA_BOOTSTRAP_SERVERS;
  process.env.KAFKA_BOOTSTRAP_SERVERS = "env:9092";
  try {
    expect(kafkaConfig({ "kafka-config": file }, { "linger.ms": "1" })).toMatchObject({
      "bootstrap.servers": "file:9092",
      "linger.ms": "7",
      "security.protocol": "SASL_SSL",
      "sasl.password": "s3cret",
    });
    expect(kafkaConfig({}, { "linger.ms": "1" })).toMatchObject({ "bootstrap.servers": "env:9092", "linger.ms": "1" });
    expect(kafkaConfig({ "kafka-config": file, X: ["bootstrap.servers=x:1", "linger.ms=9"] })["bootstrap.servers"]).toBe("x:1");
    expect(kafkaConfig({ "kafka-config": file, X: ["bootstrap.servers=x:1"], brokers: "flag:1" })["bootstrap.servers"]).toBe("flag:1");
    delete process.env.KAFKA_BOOTSTRAP_SERVERS;
    expect(kafkaConfig({})["bootstrap.servers"]).toBe("127.0.0.1:9092");
  } finally {
    if (saved === undefined) delete process.env.KAFKA_BOOTSTRAP_SERVERS;
    else process.env.KAFKA_BOOTSTRAP_SERVERS = saved;
  }
  expect(parseProperties("a=1\\\n  2\n! c\nb : x=y", "f")).toEqual({ a: "12", b: "x=y" });
  expect(() => parseProperties("=nokey", "f.properties")).toThrow(/f\.properties:1/);
});

test("--broker-version 0.9 selects the old-broker protocol settings", () => {
  expect(brokerVersionProps("0.9.0.1")).toEqual({ "api.version.request": "false", "broker.version.fallback": "0.9.0.1" });
  expect(kafkaConfig({ "broker-version": "0.9.0.1" })["api.version.request"]).toBe("false");
  expect(() => brokerVersionProps("nine")).toThrow(/--broker-version/);
});

test("secrets never reach the logs", () => {
  expect(redactConfig({ "sasl.password": "hunter2", "ssl.key.password": "k", "sasl.username": "me" })).toEqual({
    "sasl.password": "***",
    "ssl.key.password": "***",
    "sasl.username": "me",
  });
  expect(redactUrl("mysql://root:hunter2@db:3306/app")).toBe("mysql://root:***@db:3306/app");
  expect(redactUrl("redis://:pw@cache:6379")).toBe("redis://:***@cache:6379");
});

test("a password in a config file does not appear in debug logs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ingest-secret-"));
  const file = join(dir, "k.properties");
  writeFileSync(file, "sasl.password=TOPSECRET-42\nbootstrap.servers=127.0.0.1:1\n");
  const r = await runIngest(["topic", "list", "--kafka-config", file, "--timeout-ms", "500", "--log-level", "debug"], { env: { LOG_LEVEL: "debug" } });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("sasl.password"); // the config was logged...
  expect(r.stderr).not.toContain("TOPSECRET-42"); // ...without its secret
});

test("broker: prints and writes its bootstrap servers, creates topics, stops cleanly on SIGTERM", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ingest-broker-"));
  const file = join(dir, "bootstrap");
  const p = spawnIngest(["broker", "--brokers", "2", "--topics", "users:3,orders", "--partitions", "5", "--bootstrap-file", file]);
  const reader = p.stdout.getReader();
  const { value } = await reader.read();
  const bootstrap = new TextDecoder().decode(value).trim();
  expect(bootstrap).toMatch(/^127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
  expect(readFileSync(file, "utf8").trim()).toBe(bootstrap);

  const list = await runIngest(["topic", "list", "--json", "-b", bootstrap]);
  expect(list.code).toBe(0);
  expect(JSON.parse(list.stdout)).toEqual([
    { name: "orders", partitions: 5 },
    { name: "users", partitions: 3 },
  ]);
  const desc = await runIngest(["topic", "describe", "users", "--json", "-b", bootstrap]);
  expect(JSON.parse(desc.stdout).partitions.map((x: { partition: number; high: number }) => [x.partition, x.high])).toEqual([
    [0, 0],
    [1, 0],
    [2, 0],
  ]);
  const missing = await runIngest(["topic", "describe", "nope", "-b", bootstrap]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toBe("error: topic 'nope' does not exist\n");

  p.kill("SIGTERM");
  expect(await p.exited).toBe(0);
  const stderr = await new Response(p.stderr).text();
  expect(stderr).toMatch(/in-memory, NOT durable/);
  expect(stderr).toMatch(/5 MiB/);
  expect(existsSync(file)).toBe(false);
}, 30_000);

test("gen: --out a directory or in a missing directory is a usage error (exit 2), a pipe closed early exit 1, one line each (were stack traces, exit 70)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ingest-gen-"));
  const cases: [string, string][] = [
    [dir, `error: --out: cannot write ${dir}: it is a directory\n`],
    [join(dir, "no", "users.csv"), `error: --out: cannot write ${join(dir, "no", "users.csv")}: directory ${join(dir, "no")} does not exist\n`],
  ];
  for (const [out, said] of cases) {
    const r = await runIngest(["gen", "users", "--rows", "10", "--out", out]);
    expect({ out, code: r.code }).toEqual({ out, code: 2 });
    expect(r.stderr).toBe(said);
  }
  // | head -1: the rest of the rows meet a closed pipe.
  const p = Bun.spawn([
    "bash",
    "-c",
    `"\${@:2}" 2>"$1" | head -1 >/dev/null; exit \${PIPESTATUS[0]}`,
    "_",
    join(dir, "epipe.err"),
    ...ingestArgv("gen", "users", "--rows", "200000"),
  ]);
  expect(await p.exited).toBe(1);
  expect(readFileSync(join(dir, "epipe.err"), "utf8")).toBe("error: --out: cannot write standard output: the reader closed the pipe (EPIPE)\n");
});

test("load: requests go out on schedule (the first at once), so latency is the server's, not one interval of the schedule", async () => {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("{}", { status: 202 }) });
  try {
    const r = await runIngest(["load", "--url", `http://127.0.0.1:${server.port}/order`, "--rate", "20", "--duration", "1s", "--json"]);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.requests).toBe(20); // 20/s for 1 s (was 19)
    expect(rep.achieved_rate).toBeLessThanOrEqual(20);
    // Each request used to wait one interval (50 ms here) past its scheduled time, counted as latency.
    expect(rep.latency_ms.p50).toBeLessThan(25);
  } finally {
    server.stop(true);
  }
});

test("topic create looks the topic up first: --if-not-exists on an existing one succeeds at once, without it an error at once, an unreachable cluster fails in --timeout-ms", async () => {
  const { startBroker } = await import("../helpers/broker.ts");
  const broker = startBroker({ brokers: 1, topics: { users: 3 } });
  try {
    const r = await runIngest(["topic", "create", "users", "--if-not-exists", "--timeout-ms", "1000", "-b", broker.bootstrap]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("topic users already exists with 3 partitions\n");
    const j = await runIngest(["topic", "create", "users", "--if-not-exists", "--json", "--timeout-ms", "1000", "-b", broker.bootstrap]);
    expect(JSON.parse(j.stdout)).toEqual({ exists: "users", partitions: 3 });
    const again = await runIngest(["topic", "create", "users", "--timeout-ms", "1000", "-b", broker.bootstrap]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      "error: create topic 'users': it already exists with 3 partitions (--if-not-exists makes that a success) (TOPIC_ALREADY_EXISTS)\n",
    );
  } finally {
    broker.stop();
  }
  // Was: timeout + 5 s, then a hint about the embedded broker's missing controller.
  const t0 = performance.now();
  const down = await runIngest(["topic", "create", "users", "--timeout-ms", "500", "-b", "127.0.0.1:1"]);
  expect(down.code).toBe(1);
  expect(down.stderr).toEndWith("error: metadata from 127.0.0.1:1: Local: Broker transport failure (_TRANSPORT)\n");
  expect(performance.now() - t0).toBeLessThan(3000);
}, 30_000);
