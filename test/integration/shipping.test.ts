/**
 * Shipping checks that run without a Docker engine: the Dockerfile, .dockerignore and the compose
 * files are parsed and checked against the source (ENV_VARS, defaults, package.json), docker-compose
 * validates the compose files when it is installed, the build stage's inputs compile offline into a
 * binary the runtime image can run, and `ingest health` (the image's HEALTHCHECK) is exercised.
 */
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { readFileSync, existsSync, mkdtempSync, rmSync, cpSync, symlinkSync, writeFileSync, utimesSync } from "node:fs";
import { join, resolve, relative } from "node:path";
import { tmpdir } from "node:os";
import pkg from "../../package.json" with { type: "json" };
import { ENV_VARS } from "../../src/cli/env.ts";
import { DEFAULT_TOPICS, DEFAULT_SERVE_PORT, DEFAULT_GROUP } from "../../src/cli/defaults.ts";
import { parseProperties } from "../../src/core/properties.ts";
import { UsageError, type IngestError } from "../../src/core/errors.ts";
import health, { checkUrl, checkFile, checkKafka } from "../../src/commands/health.ts";
import { log, setLogLevel, type LogLevel } from "../../src/observability/log.ts";
import { needs, skipCheck, onPath } from "../helpers/needs.ts";

const ROOT = resolve(import.meta.dir, "..", "..");
const read = (p: string) => readFileSync(join(ROOT, p), "utf8");
const BUN_VERSION = /^bun@(\d+\.\d+\.\d+)$/.exec(pkg.packageManager)?.[1];
const TOPICS = Object.values(DEFAULT_TOPICS);

// ---------------------------------------------------------------- Dockerfile parsing

interface Instr {
  line: number;
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instrs: Instr[];
}

/** Dockerfile instructions with continuation lines joined and comments dropped, split into stages. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let cur = lines[i]!;
    if (/^\s*(#|$)/.test(cur)) continue;
    while (/\\\s*$/.test(cur) && i + 1 < lines.length) {
      cur = cur.replace(/\\\s*$/, " ");
      i++;
      if (!/^\s*#/.test(lines[i]!)) cur += lines[i]!;
    }
    const m = /^\s*(\w+)\s+(.*)$/s.exec(cur);
    if (!m) throw new Error(`Dockerfile:${start}: cannot parse '${cur}'`);
    const instr = { line: start, op: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, " ").trim() };
    if (instr.op === "FROM") {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instr.args);
      if (!f) throw new Error(`Dockerfile:${start}: cannot parse FROM '${instr.args}'`);
      stages.push({ from: f[1]!, name: f[2], instrs: [] });
    } else if (instr.op !== "ARG" || stages.length) {
      if (!stages.length) throw new Error(`Dockerfile:${start}: ${instr.op} before FROM`);
      stages.at(-1)!.instrs.push(instr);
    }
  }
  return stages;
}

const ops = (s: Stage, op: string) => s.instrs.filter((i) => i.op === op);
const jsonArgs = (i: Instr | undefined) => (i ? (JSON.parse(i.args.replace(/^CMD\s+/, "")) as string[]) : undefined);

// ---------------------------------------------------------------- .dockerignore matching

/** Docker's .dockerignore rules: last matching pattern wins, `!` re-includes, a matched dir hides its files. */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const pat = (negate ? l.slice(1) : l).replace(/^\/+/, "").replace(/\/+$/, "");
      let re = "";
      for (let i = 0; i < pat.length; i++) {
        const c = pat[i]!;
        if (c === "*" && pat[i + 1] === "*") {
          const slash = pat[i + 2] === "/";
          re += slash ? "(?:.*/)?" : ".*";
          i += slash ? 2 : 1;
        } else if (c === "*") re += "[^/]*";
        else if (c === "?") re += "[^/]";
        else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (path: string) => {
    const parts = path.split("/");
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let excluded = false;
    for (const r of rules) if (prefixes.some((p) => r.re.test(p))) excluded = !r.negate;
    return excluded;
  };
}

// ---------------------------------------------------------------- compose helpers

// biome-ignore lint/suspicious/noExplicitAny: compose files are free-form YAML, read loosely here
type Service = Record<string, any>;
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

function envOf(svc: Service): Record<string, string> {
  const env = svc.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((kv: string) => [kv.split("=")[0], kv.slice(kv.indexOf("=") + 1)]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}
const isIngest = (svc: Service) => typeof svc.image === "string" && svc.image.split(":")[0] === "ingest";
/** Command as a list whether compose gave a string or an array. */
const argv = (c: unknown): string[] => (Array.isArray(c) ? c.map(String) : typeof c === "string" ? c.split(/\s+/) : []);
/** Value following a flag in an argv. */
const flag = (args: string[], name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
/** Container ports from short-syntax mappings ("127.0.0.1:8080:8080", "8080:8080/tcp") or long syntax. */
const containerPorts = (svc: Service): number[] =>
  (svc.ports ?? []).map((p: unknown) =>
    typeof p === "object" && p
      ? Number((p as { target: number }).target)
      : Number(
          String(p)
            .replace(/\/\w+$/, "")
            .split(":")
            .at(-1),
        ),
  );

const dockerCompose = Bun.which("docker-compose");

function composeConfig(...files: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([dockerCompose!, "--project-directory", ROOT, ...files.flatMap((f) => ["-f", join(ROOT, f)]), "config"], {
    cwd: ROOT,
    env: { ...process.env, COMPOSE_PROJECT_NAME: "ingest-test" },
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

const compose = Bun.YAML.parse(read("compose.yaml")) as ComposeFile;
const durable = Bun.YAML.parse(read("compose.durable.yaml")) as ComposeFile;
const stages = parseDockerfile(read("Dockerfile"));

// ---------------------------------------------------------------- tests

describe("Dockerfile", () => {
  const build = stages[0]!;
  const runtime = stages.at(-1)!;

  test("has a build stage and a runtime stage", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(ops(runtime, "COPY").some((c) => /--from=/.test(c.args))).toBe(true);
  });

  test("build stage pins the official Bun image to package.json's packageManager version", () => {
    expect(BUN_VERSION).toBeDefined();
    const m = /^(?:docker\.io\/)?oven\/bun:(\d+\.\d+\.\d+)(-debian|-slim)?$/.exec(build.from);
    expect(m, `build stage FROM ${build.from}: expected oven/bun:X.Y.Z[-debian]`).not.toBeNull();
    expect(m![1]).toBe(BUN_VERSION!);
  });

  test("build stage installs from the lockfile and compiles with package.json's build script, running no tests", () => {
    const runs = ops(build, "RUN")
      .map((r) => r.args)
      .join("\n");
    expect(runs).toMatch(/bun install\b[^\n]*--frozen-lockfile/);
    expect(runs).not.toMatch(/bun (run )?test\b/);
    expect(runs.includes("bun run build") || runs.includes(pkg.scripts.build)).toBe(true);
    expect(pkg.scripts.build).toMatch(/bun build --compile .*--outfile \.\/ingest/);
    const copied = ops(build, "COPY").map((c) => c.args);
    for (const f of ["package.json", "bun.lock"]) expect(copied.some((c) => c.split(" ").includes(f))).toBe(true);
  });

  test("runtime stage is Debian bookworm slim with librdkafka1, libisal2, libsnappy1v5 and ca-certificates only", () => {
    expect(runtime.from).toMatch(/^(?:docker\.io\/)?debian:(bookworm|12(\.\d+)?)(-\d{8})?-slim$/);
    const install = ops(runtime, "RUN")
      .map((r) => r.args)
      .find((a) => a.includes("apt-get install"));
    expect(install, "runtime stage has no apt-get install").toBeDefined();
    expect(install).toContain("--no-install-recommends");
    expect(install).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
    const pkgs = /apt-get install ([^&;]*)/
      .exec(install!)![1]!
      .split(" ")
      .filter((w) => w && !w.startsWith("-"));
    expect(pkgs.sort()).toEqual(["ca-certificates", "libisal2", "librdkafka1", "libsnappy1v5"]);
  });

  test("runtime stage runs as a non-root user with the binary at /usr/local/bin/ingest", () => {
    const user = ops(runtime, "USER").at(-1)?.args;
    expect(user, "no USER in the runtime stage").toBeDefined();
    expect(user!.split(":")[0]).not.toMatch(/^(root|0)$/);
    const copy = ops(runtime, "COPY").find((c) => c.args.startsWith(`--from=${build.name}`));
    expect(copy?.args.split(" ").at(-1)).toBe("/usr/local/bin/ingest");
    expect(jsonArgs(ops(runtime, "ENTRYPOINT").at(-1))).toEqual(["ingest"]);
    expect(ops(runtime, "EXPOSE").map((e) => e.args)).toContain(String(DEFAULT_SERVE_PORT));
  });

  test("HEALTHCHECK probes serve's port with `ingest health` (no curl in the image)", () => {
    const hc = ops(runtime, "HEALTHCHECK").at(-1);
    expect(hc, "no HEALTHCHECK").toBeDefined();
    const cmd = JSON.parse(hc!.args.slice(hc!.args.indexOf("CMD ") + 4)) as string[];
    expect(cmd.slice(0, 2)).toEqual(["ingest", "health"]);
    expect(new URL(flag(cmd, "--url")!).port).toBe(String(DEFAULT_SERVE_PORT));
    expect(existsSync(join(ROOT, "src/commands/health.ts"))).toBe(true);
  });

  test("OCI labels name the package.json version", () => {
    const labels = ops(runtime, "LABEL")
      .map((l) => l.args)
      .join(" ");
    const arg = ops(runtime, "ARG")
      .map((a) => a.args)
      .find((a) => a.startsWith("VERSION="));
    expect(labels).toContain("org.opencontainers.image.title=");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the Dockerfile's own ${VERSION}, not a template
    expect(labels).toContain('org.opencontainers.image.version="${VERSION}"');
    expect(arg).toBe(`VERSION=${pkg.version}`);
  });

  test("no image reference uses :latest or no tag", () => {
    for (const s of stages) if (!stages.some((o) => o.name === s.from)) expect(s.from).toMatch(/:[\w.-]*\d[\w.-]*$/);
  });
});

describe(".dockerignore", () => {
  const ignored = dockerignore(read(".dockerignore"));

  test("the matcher follows Docker's rules", () => {
    const m = dockerignore("node_modules\n**/*.log\n/ingest\ndata\n!data/keep.csv\n");
    expect(m("node_modules/x/index.js")).toBe(true);
    expect(m("a/b/c.log")).toBe(true);
    expect(m("ingest")).toBe(true);
    expect(m("src/ingest")).toBe(false);
    expect(m("data/users.csv")).toBe(true);
    expect(m("data/keep.csv")).toBe(false);
  });

  test("excludes dependencies, tools, caches, data, local builds and git", () => {
    for (const p of [
      "node_modules/pino/package.json",
      ".tools/node_modules/.bin/bun",
      ".cache/x",
      ".git/HEAD",
      "bench/build/a.o",
      "data/users.csv",
      "ingest",
      "ingest.map",
    ]) {
      expect(ignored(p), `${p} should be excluded`).toBe(true);
    }
  });

  test("keeps every file the build stage copies", () => {
    const sources = ops(stages[0]!, "COPY").flatMap((c) =>
      c.args
        .split(" ")
        .filter((w) => !w.startsWith("--"))
        .slice(0, -1),
    );
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources) {
      expect(existsSync(join(ROOT, s)), `COPY source ${s} does not exist`).toBe(true);
      expect(ignored(s), `COPY source ${s} is excluded by .dockerignore`).toBe(false);
    }
    expect(ignored("src/cli/main.ts")).toBe(false);
  });
});

describe("build stage, offline", () => {
  let dir = "";
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  test("the copied inputs compile into a binary that starts and needs no newer glibc than bookworm's", async () => {
    // Only what the Dockerfile copies, less what .dockerignore drops (so an import from test/ or
    // data/, or an ignored source file, fails here as it would in `docker build`); the
    // repo's installed node_modules stand in for `bun install`, which needs the registry.
    dir = mkdtempSync(join(tmpdir(), "ingest-build-"));
    const sources = ops(stages[0]!, "COPY").flatMap((c) =>
      c.args
        .split(" ")
        .filter((w) => !w.startsWith("--"))
        .slice(0, -1),
    );
    const ignored = dockerignore(read(".dockerignore"));
    for (const s of sources) cpSync(join(ROOT, s), join(dir, s), { recursive: true, filter: (from) => !ignored(relative(ROOT, from)) });
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    const b = Bun.spawnSync([process.execPath, "run", "build"], { cwd: dir, stderr: "pipe", stdout: "pipe" });
    expect(b.exitCode, b.stderr.toString()).toBe(0);
    const bin = join(dir, "ingest");
    const help = Bun.spawnSync([bin, "--help"], { env: { ...process.env, LOG_LEVEL: "silent" } });
    expect(help.exitCode).toBe(0);
    expect(help.stdout.toString()).toContain("Usage: ingest");

    if (skipCheck("the glibc version check", onPath("objdump"))) return;
    const objdump = Bun.which("objdump")!;
    const syms = Bun.spawnSync([objdump, "-T", bin]).stdout.toString();
    const versions = [...syms.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => Number(m[1]) * 1000 + Number(m[2]));
    expect(versions.length).toBeGreaterThan(0);
    // Debian 12 (bookworm) ships glibc 2.36.
    expect(Math.max(...versions)).toBeLessThanOrEqual(2036);
  }, 120_000);
});

describe("compose.yaml", () => {
  const services = compose.services;
  const ingest = Object.entries(services).filter(([, s]) => isIngest(s));

  test("docker-compose config accepts compose.yaml, alone and with compose.durable.yaml", () => {
    if (skipCheck("docker-compose config", dockerCompose ? null : "docker-compose is not installed")) return;
    for (const files of [["compose.yaml"], ["compose.yaml", "compose.durable.yaml"]]) {
      const r = composeConfig(...files);
      expect(r.code, `docker-compose ${files.join(" + ")} config: ${r.err}`).toBe(0);
      expect(Object.keys((Bun.YAML.parse(r.out) as ComposeFile).services)).toContain("ingest-serve");
    }
  });

  test("has the stack: Kafka, topics, MySQL, Redis, UI, ingest-serve, ingest-consume, ingest-dashboard, Prometheus, Grafana", () => {
    for (const s of ["kafka", "topics", "mysql", "redis", "kafka-ui", "ingest-serve", "ingest-consume", "ingest-dashboard", "prometheus", "grafana"])
      expect(Object.keys(services)).toContain(s);
    expect(ingest.map(([n]) => n).sort()).toEqual(["ingest-consume", "ingest-dashboard", "ingest-serve"]);
  });

  test("ingest services pass only environment variables the CLI reads (src/cli/env.ts)", () => {
    for (const doc of [compose, durable]) {
      for (const [name, svc] of Object.entries(doc.services)) {
        if (!isIngest(svc) && !name.startsWith("ingest-")) continue;
        for (const key of Object.keys(envOf(svc))) expect(Object.keys(ENV_VARS), `${name}: ${key} is not in ENV_VARS`).toContain(key);
      }
    }
    for (const [, svc] of ingest) expect(envOf(svc).KAFKA_BOOTSTRAP_SERVERS).toBeTruthy();
  });

  test("ingest image tag is package.json's version and both services can build it", () => {
    for (const [name, svc] of ingest) {
      expect(svc.image, name).toBe(`ingest:${pkg.version}`);
      expect(svc.build, name).toBeDefined();
    }
  });

  test("every image is pinned to a versioned tag", () => {
    for (const doc of [compose, durable]) {
      for (const [name, svc] of Object.entries(doc.services)) {
        if (svc.image === undefined) continue;
        const tag = /:([^/:@]+)$/.exec(svc.image)?.[1];
        expect(tag, `${name}: ${svc.image} has no tag`).toBeDefined();
        expect(tag, `${name}: ${svc.image}`).not.toBe("latest");
        expect(tag, `${name}: ${svc.image} tag names no version`).toMatch(/\d/);
      }
    }
  });

  test("ingest-serve listens on the default port and its healthcheck probes it", () => {
    const s = services["ingest-serve"]!;
    const cmd = argv(s.command);
    expect(cmd[0]).toBe("serve");
    expect(flag(cmd, "--port")).toBe(String(DEFAULT_SERVE_PORT));
    expect(flag(cmd, "--host")).toBe("0.0.0.0");
    expect(containerPorts(s)).toContain(DEFAULT_SERVE_PORT);
    const hc = argv(s.healthcheck?.test);
    expect(hc.slice(0, 3)).toEqual(["CMD", "ingest", "health"]);
    expect(new URL(flag(hc, "--url")!).port).toBe(String(DEFAULT_SERVE_PORT));
  });

  test("ingest-consume is scalable and consumes the default topics in the default group", () => {
    const s = services["ingest-consume"]!;
    expect(s.container_name).toBeUndefined();
    expect(s.ports).toBeUndefined();
    const cmd = argv(s.command);
    expect(cmd[0]).toBe("consume");
    expect(flag(cmd, "--group")).toBe(DEFAULT_GROUP);
    expect(flag(cmd, "--topics")?.split(",").sort()).toEqual([...TOPICS].sort());
    expect(Number(flag(cmd, "--workers"))).toBeGreaterThanOrEqual(1);
    expect(argv(s.healthcheck?.test).slice(0, 3)).toEqual(["CMD", "ingest", "health"]);
  });

  test("the topics service creates the default topics with 6 partitions", () => {
    const t = services.topics!;
    const env = envOf(t);
    expect(env.TOPICS!.split(/[\s,]+/).sort()).toEqual([...TOPICS].sort());
    expect(env.PARTITIONS).toBe("6");
    expect(argv(t.command).join(" ")).toContain("kafka-topics.sh");
    expect(t.restart).toBe("no");
    // Partitions bound the useful consumers: the consumer's topics must be the ones created.
    expect(
      flag(argv(services["ingest-consume"]!.command), "--topics")!
        .split(",")
        .every((x) => TOPICS.includes(x as never)),
    ).toBe(true);
  });

  test("Kafka runs KRaft without auto-created topics and is checked with the image's own script", () => {
    const k = services.kafka!;
    const env = envOf(k);
    expect(k.image).toMatch(/^apache\/kafka:\d/);
    expect(env.KAFKA_PROCESS_ROLES).toContain("controller");
    expect(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe("false");
    expect(argv(k.healthcheck?.test).join(" ")).toContain("/opt/kafka/bin/kafka-broker-api-versions.sh");
    expect(argv(services.mysql!.healthcheck?.test).join(" ")).toContain("mysqladmin ping");
    expect(argv(services.redis!.healthcheck?.test).join(" ")).toContain("redis-cli ping");
  });

  test("long-running services have healthchecks; depends_on conditions match what the target offers", () => {
    for (const [name, svc] of Object.entries(services)) {
      if (svc.restart !== "no") expect(svc.healthcheck, `${name} has no healthcheck`).toBeDefined();
      for (const [dep, spec] of Object.entries((svc.depends_on ?? {}) as Record<string, { condition: string }>)) {
        const target = services[dep];
        expect(target, `${name} depends on unknown service ${dep}`).toBeDefined();
        if (spec.condition === "service_healthy")
          expect(target!.healthcheck, `${name} waits for ${dep} to be healthy, but it has no healthcheck`).toBeDefined();
        if (spec.condition === "service_completed_successfully") expect(target!.restart, `${dep} is one-shot`).toBe("no");
      }
    }
    for (const [name, svc] of ingest) {
      expect(svc.depends_on?.topics?.condition, name).toBe("service_completed_successfully");
    }
  });

  test("named volumes are declared", () => {
    for (const doc of [compose, durable]) {
      for (const [name, svc] of Object.entries(doc.services)) {
        for (const v of (svc.volumes ?? []) as string[]) {
          const src = String(v).split(":")[0]!;
          if (src.startsWith(".") || src.startsWith("/")) continue;
          expect(Object.keys(doc.volumes ?? {}), `${name}: volume ${src} not declared`).toContain(src);
        }
      }
    }
  });
});

describe("compose.durable.yaml", () => {
  // The merged view is what runs; docker-compose computes it when present, else merge by hand.
  function merged(): ComposeFile {
    if (dockerCompose) {
      const r = composeConfig("compose.yaml", "compose.durable.yaml");
      if (r.code === 0) return Bun.YAML.parse(r.out) as ComposeFile;
      throw new Error(r.err);
    }
    const out = structuredClone(compose);
    for (const [name, svc] of Object.entries(durable.services)) {
      const base = (out.services[name] ??= {});
      for (const [k, v] of Object.entries(svc)) base[k] = k === "environment" ? { ...base[k], ...v } : v;
    }
    return out;
  }
  const m = merged();
  const nodes = Object.entries(m.services).filter(([, s]) => String(s.image).startsWith("apache/kafka:") && envOf(s).KAFKA_NODE_ID);

  test("three KRaft nodes in one cluster, each a voter, each with its own volume", () => {
    expect(nodes.length).toBe(3);
    const ids = nodes.map(([, s]) => envOf(s).KAFKA_NODE_ID).sort();
    expect(ids).toEqual(["1", "2", "3"]);
    expect(new Set(nodes.map(([, s]) => envOf(s).CLUSTER_ID)).size).toBe(1);
    for (const [name, s] of nodes) {
      const voters = envOf(s).KAFKA_CONTROLLER_QUORUM_VOTERS!.split(",");
      expect(voters.length, name).toBe(3);
      for (const [other, o] of nodes) expect(voters, `${name} voters`).toContain(`${envOf(o).KAFKA_NODE_ID}@${other}:9093`);
      expect(s.healthcheck, name).toBeDefined();
    }
    const vols = nodes.map(([, s]) => String(s.volumes.find((v: string) => String(v).includes("/var/lib/kafka/data"))).split(":")[0]);
    expect(new Set(vols).size).toBe(3);
    expect(vols).not.toContain("kafka-data");
  });

  test("topics get replication factor 3 and min.insync.replicas=2 after all brokers are healthy", () => {
    const env = envOf(m.services.topics!);
    expect(env.REPLICATION_FACTOR).toBe("3");
    expect(env.MIN_INSYNC_REPLICAS).toBe("2");
    for (const [name] of nodes) expect(m.services.topics!.depends_on[name]?.condition).toBe("service_healthy");
    for (const [, s] of nodes) expect(envOf(s).KAFKA_MIN_INSYNC_REPLICAS).toBe("2");
  });

  test("ingest services and the UI bootstrap from all three brokers", () => {
    for (const name of ["ingest-serve", "ingest-consume", "ingest-dashboard"]) {
      expect(envOf(m.services[name]!).KAFKA_BOOTSTRAP_SERVERS!.split(",").length).toBe(3);
    }
    expect(envOf(m.services["kafka-ui"]!).KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS!.split(",").length).toBe(3);
  });
});

describe("deploy/", () => {
  test("kafka-config.example.properties parses and sets SASL_SSL with placeholders", () => {
    const props = parseProperties(read("deploy/kafka-config.example.properties"), "deploy/kafka-config.example.properties");
    expect(props["security.protocol"]).toBe("SASL_SSL");
    expect(props["sasl.mechanisms"]).toBe("PLAIN");
    expect(props["sasl.username"]).toBeTruthy();
    expect(props["sasl.password"]).toBeTruthy();
    expect(props["bootstrap.servers"]).toBeTruthy();
  });

  test("README-ops.md names only real subcommands and the default topics and port", () => {
    const doc = read("deploy/README-ops.md");
    const main = read("src/cli/main.ts");
    const known = new Set([...main.matchAll(/^\s+(\w+): async \(\) =>/gm)].map((x) => x[1]!).concat(["health"]));
    const used = [...doc.matchAll(/\bingest (\w[\w-]*)/g)].map((x) => x[1]!).filter((w) => /^[a-z]+$/.test(w) && !["image", "services", "stack"].includes(w));
    expect(used.length).toBeGreaterThan(0);
    for (const u of used) expect([...known], `README-ops.md mentions 'ingest ${u}'`).toContain(u);
    for (const t of TOPICS) expect(doc).toContain(t);
    expect(doc).toContain(String(DEFAULT_SERVE_PORT));
    // Names that look like ingest's settings; the UI's and MySQL image's own variables are not.
    const vars = (doc.match(/\b(?:KAFKA|MYSQL|REDIS|SQLITE|LOG|LIBRDKAFKA|INGEST)_[A-Z0-9_]+\b/g) ?? []).filter(
      (v) => !/^(KAFKA_CLUSTERS_|MYSQL_(ROOT_PASSWORD|DATABASE|USER|PASSWORD)$)/.test(v),
    );
    expect(vars).toContain("KAFKA_CONFIG_FILE");
    for (const v of vars) expect(Object.keys(ENV_VARS), `README-ops.md mentions ${v}`).toContain(v);
  });

  const linter = process.env.DOCKERFILE_UTILS ?? Bun.which("dockerfile-utils");
  needs("dockerfile-utils", linter ? null : "not installed (set DOCKERFILE_UTILS)", { optional: true })(
    "dockerfile-utils finds nothing in the Dockerfile",
    () => {
      const r = Bun.spawnSync([linter!, "lint", "--json", join(ROOT, "Dockerfile")]);
      expect(JSON.parse(r.stdout.toString())).toEqual([]);
    },
  );
});

describe("ingest health", () => {
  let server: ReturnType<typeof Bun.serve>;
  let base = "";
  let tmp = "";
  beforeAll(() => {
    server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/ok") return new Response("ok");
        if (path === "/down") return new Response("down", { status: 503 });
        if (path === "/redirect") return Response.redirect("/ok", 302);
        if (path === "/slow") await Bun.sleep(2000);
        return new Response("late");
      },
    });
    base = `http://127.0.0.1:${server.port}`;
    tmp = mkdtempSync(join(tmpdir(), "ingest-health-"));
  });
  afterAll(() => {
    server.stop(true);
    rmSync(tmp, { recursive: true, force: true });
  });

  const failure = async (p: Promise<unknown> | (() => unknown)) => {
    try {
      await (typeof p === "function" ? p() : p);
    } catch (e) {
      return e as IngestError;
    }
    throw new Error("expected a failure");
  };

  test("--url: 2xx is healthy; 503, redirects, refused connections and timeouts are not", async () => {
    await checkUrl(`${base}/ok`, 1000);
    let e = await failure(checkUrl(`${base}/down`, 1000));
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(`unhealthy: GET ${base}/down: HTTP 503, expected 2xx`);
    e = await failure(checkUrl(`${base}/redirect`, 1000));
    expect(e.message).toContain("HTTP 302");
    e = await failure(checkUrl(`${base}/slow`, 200));
    expect(e.message).toContain("no answer within 200 ms");
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const port = closed.port;
    closed.stop(true);
    e = await failure(checkUrl(`http://127.0.0.1:${port}/health`, 1000));
    expect(e.exitCode).toBe(1);
    expect(e.message).toStartWith(`unhealthy: GET http://127.0.0.1:${port}/health:`);
  });

  test("--file: fresh heartbeat is healthy; stale or missing is not", async () => {
    const f = join(tmp, "beat");
    writeFileSync(f, "");
    checkFile(f, 5000);
    const old = new Date(Date.now() - 120_000);
    utimesSync(f, old, old);
    expect((await failure(() => checkFile(f, 60_000))).message).toMatch(/last written 12\d s ago, expected within 60 s/);
    expect((await failure(() => checkFile(join(tmp, "none"), 60_000))).message).toContain("ENOENT");
  });

  test("run(): combines checks, exits 0 when all pass, rejects bad usage with exit 2", async () => {
    const f = join(tmp, "beat2");
    writeFileSync(f, "");
    expect(await health.run(["--url", `${base}/ok`, "--file", f, "--max-age", "30s"])).toBe(0);
    expect((await failure(health.run(["--url", `${base}/ok`, "--file", join(tmp, "nope")]))).exitCode).toBe(1);
    for (const bad of [["--max-age", "5s"], ["--topics", "users"], ["--url", "ftp://x/"], ["--url", "not a url"], ["--timeout", "soon"], ["extra"]]) {
      const e = await failure(health.run(bad));
      expect(e, bad.join(" ")).toBeInstanceOf(UsageError);
      expect(e.exitCode).toBe(2);
    }
  });

  test("the CLI dispatches `ingest health` (the image's HEALTHCHECK): exit 0 healthy, 1 with one line otherwise", async () => {
    // Fails until src/cli/main.ts registers the command; without it every container is "unhealthy".
    // Async spawn: the HTTP fixture lives in this process, and spawnSync would block its event loop.
    const cli = async (...args: string[]) => {
      const p = Bun.spawn([process.execPath, join(ROOT, "src/cli/main.ts"), "health", ...args], {
        env: { ...process.env, LOG_LEVEL: "silent" },
        stderr: "pipe",
      });
      return { exitCode: await p.exited, stderr: await new Response(p.stderr).text() };
    };
    const ok = await cli("--url", `${base}/ok`);
    expect(ok.exitCode, ok.stderr).toBe(0);
    const down = await cli("--url", `${base}/down`, "--timeout", "2s");
    expect(down.exitCode).toBe(1);
    expect(down.stderr.trim()).toBe(`error: unhealthy: GET ${base}/down: HTTP 503, expected 2xx`);
  });

  test("--kafka: a reachable cluster with the topics is healthy; missing topics or no broker is not", async () => {
    const { MockCluster } = await import("../../src/kafka/index.ts");
    const cluster = new MockCluster(1);
    try {
      for (const t of TOPICS) cluster.createTopic(t, 6);
      const conf = { "bootstrap.servers": cluster.bootstraps };
      await checkKafka(conf, TOPICS, 5000);
      const e = await failure(checkKafka(conf, ["users", "absent"], 5000));
      expect(e.message).toContain("topic(s) absent missing");
    } finally {
      cluster.destroy();
    }
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const port = closed.port;
    closed.stop(true);
    // librdkafka's expected connection-refused warnings would only clutter the test output.
    const level = log.level as LogLevel;
    setLogLevel("silent");
    const e = await failure(checkKafka({ "bootstrap.servers": `127.0.0.1:${port}` }, [], 1000)).finally(() => setLogLevel(level));
    expect(e.exitCode).toBe(1);
    expect(e.message).toStartWith(`unhealthy: kafka 127.0.0.1:${port}:`);
  }, 30_000);
});

describe("alerting: Prometheus rules and the Grafana dashboard", () => {
  const promtool = Bun.which("promtool") ?? "promtool";
  const promtoolTest = needs("promtool", onPath("promtool"));
  const run = (...args: string[]) => {
    const r = Bun.spawnSync([promtool!, ...args], { cwd: join(ROOT, "deploy/prometheus") });
    return { code: r.exitCode, out: `${r.stdout.toString()}${r.stderr.toString()}` };
  };
  /** Metric names ingest exports: every family name in src (histograms with their series suffixes). */
  const exported = (() => {
    const names = new Set<string>(["up"]);
    const glob = new Bun.Glob("src/**/*.ts");
    for (const f of glob.scanSync(ROOT)) {
      const text = read(f);
      for (const m of text.matchAll(/name: "(ingest_[a-z_]+)",\s*type: "(\w+)"/g)) {
        names.add(m[1]!);
        if (m[2] === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(m[1]! + suffix);
      }
      for (const m of text.matchAll(/one\("(ingest_[a-z_]+)"/g)) names.add(m[1]!);
      for (const m of text.matchAll(/byPartition\("(ingest_[a-z_]+)"/g)) names.add(m[1]!);
    }
    return names;
  })();
  const referenced = (text: string) => [...new Set([...text.matchAll(/\b(ingest_[a-z_]+)\b/g)].map((m) => m[1]!))];

  promtoolTest("promtool check rules accepts alerts.yml and check config accepts prometheus.yml", () => {
    const rules = run("check", "rules", "alerts.yml");
    expect(rules.code, rules.out).toBe(0);
    expect(rules.out).toMatch(/SUCCESS: \d+ rules found/);
    const config = run("check", "config", "prometheus.yml");
    expect(config.code, config.out).toBe(0);
  });

  promtoolTest("promtool test rules: every rule fires on its unit test's series and not on the near misses", () => {
    const r = run("test", "rules", "alerts.test.yml");
    expect(r.code, r.out).toBe(0);
    // Every alert of alerts.yml is exercised by a test.
    const alerts = [...read("deploy/prometheus/alerts.yml").matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    const tested = new Set([...read("deploy/prometheus/alerts.test.yml").matchAll(/alertname: (\w+)/g)].map((m) => m[1]!));
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const a of alerts) expect(tested.has(a), `${a} has no promtool test`).toBe(true);
  });

  test("the rules and the Grafana dashboard name only metrics ingest exports", () => {
    expect(exported.has("ingest_group_status")).toBe(true);
    expect(exported.has("ingest_consume_dlq_total")).toBe(true);
    expect(exported.has("ingest_http_request_duration_seconds_bucket")).toBe(true);
    for (const file of ["deploy/prometheus/alerts.yml", "deploy/grafana/dashboards/ingest.json"]) {
      const names = referenced(read(file));
      expect(names.length).toBeGreaterThan(5);
      for (const n of names) expect(exported.has(n), `${file} uses ${n}, which nothing in src/ exports`).toBe(true);
    }
  });

  test("the Grafana dashboard: valid JSON, every panel queries the provisioned Prometheus data source", () => {
    const dash = JSON.parse(read("deploy/grafana/dashboards/ingest.json")) as {
      uid: string;
      panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[];
    };
    const ds = Bun.YAML.parse(read("deploy/grafana/provisioning/datasources/prometheus.yml")) as { datasources: { uid: string; url: string }[] };
    const uid = ds.datasources[0]!.uid;
    expect(dash.uid).toBe("ingest");
    const panels = dash.panels.filter((p) => p.type !== "row");
    expect(panels.length).toBeGreaterThanOrEqual(10);
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe(uid);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.expr.trim(), p.title).not.toBe("");
    }
    // The data source is the compose service Prometheus runs as.
    expect(new URL(ds.datasources[0]!.url).hostname).toBe("prometheus");
  });

  test("compose wires it: Prometheus scrapes serve, consume and the dashboard where they listen; Grafana is provisioned", () => {
    const prom = compose.services.prometheus!;
    expect(prom.volumes.map(String)).toContain("./deploy/prometheus:/etc/prometheus:ro");
    const cfg = Bun.YAML.parse(read("deploy/prometheus/prometheus.yml")) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs?: { targets: string[] }[]; dns_sd_configs?: { names: string[]; port: number }[] }[];
    };
    expect(cfg.rule_files).toEqual(["alerts.yml"]);
    const job = (name: string) => cfg.scrape_configs.find((j) => j.job_name === name)!;
    expect(job("ingest-serve").static_configs![0]!.targets).toEqual([`ingest-serve:${DEFAULT_SERVE_PORT}`]);
    const consume = argv(compose.services["ingest-consume"]!.command);
    expect(job("ingest-consume").dns_sd_configs![0]).toMatchObject({ names: ["ingest-consume"], port: Number(flag(consume, "--metrics-port")) });
    expect(flag(consume, "--metrics-host")).toBe("0.0.0.0");
    const dashboard = argv(compose.services["ingest-dashboard"]!.command);
    expect(dashboard[0]).toBe("dashboard");
    expect(job("ingest-dashboard").static_configs![0]!.targets).toEqual([`ingest-dashboard:${flag(dashboard, "--port")}`]);
    expect(containerPorts(compose.services["ingest-dashboard"]!)).toContain(Number(flag(dashboard, "--port")));
    const grafana = compose.services.grafana!;
    for (const v of grafana.volumes.map(String).filter((x: string) => x.startsWith("./"))) expect(existsSync(join(ROOT, v.split(":")[0]!)), v).toBe(true);
    expect(grafana.depends_on.prometheus.condition).toBe("service_healthy");
  });
});
