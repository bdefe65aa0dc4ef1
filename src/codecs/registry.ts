/**
 * Schema Registry (Confluent's REST API, as Confluent Schema Registry, Apicurio's
 * /apis/ccompat/v7 and Redpanda serve it) and its wire format: magic byte 0, the schema id as
 * 4 bytes big-endian, then the Avro binary datum. produce/serve register (or find) the value
 * schema once at start; consume fetches writer schemas by id, once per id, and resolves them
 * against its reader schema.
 */
import avro from "avsc";
import { readFileSync } from "node:fs";
import { parseProperties } from "../core/properties.ts";
import { IngestError, UsageError } from "../core/errors.ts";
import { redactUrl } from "../observability/log.ts";

export const WIRE_MAGIC = 0;
export const WIRE_HEADER_BYTES = 5;

/** The 5 bytes that start every value written for schema `id`. */
export function wireHeader(id: number): Uint8Array {
  const h = new Uint8Array(WIRE_HEADER_BYTES);
  h[0] = WIRE_MAGIC;
  new DataView(h.buffer).setUint32(1, id, false);
  return h;
}

/** The schema id of a wire-format value, or the reason it is not one. */
export function wireSchemaId(bytes: Uint8Array): number | string {
  if (bytes.length < WIRE_HEADER_BYTES) return `not schema-registry framed: ${bytes.length} bytes, expected at least ${WIRE_HEADER_BYTES}`;
  if (bytes[0] !== WIRE_MAGIC) return `not schema-registry framed: magic byte ${bytes[0]}, expected ${WIRE_MAGIC}`;
  return ((bytes[1]! << 24) >>> 0) + (bytes[2]! << 16) + (bytes[3]! << 8) + bytes[4]!;
}

export type SubjectStrategy = "topic" | "record";

/** The subject a value schema goes under: TopicNameStrategy `<topic>-value`, RecordNameStrategy the record's full name. */
export function valueSubject(strategy: SubjectStrategy, topic: string, schema: { name: string; namespace?: string }): string {
  if (strategy === "topic") return `${topic}-value`;
  return schema.name.includes(".") || !schema.namespace ? schema.name : `${schema.namespace}.${schema.name}`;
}

export interface RegistryConfig {
  url: string;
  /** "user:password" for HTTP basic auth (from the URL, the config file or the environment). */
  userInfo?: string;
  /** PEM files: a CA to trust, and a client certificate and key for mutual TLS. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Per request (default 10 s). */
  timeoutMs?: number;
}

/**
 * The registry settings from, lowest precedence first: the environment
 * (SCHEMA_REGISTRY_URL, SCHEMA_REGISTRY_CONFIG_FILE, SCHEMA_REGISTRY_USER_INFO), the properties
 * file (`basic.auth.user.info`, `ssl.ca.location`, `ssl.certificate.location`,
 * `ssl.key.location`, as Confluent's clients name them), then the flag's URL (whose
 * `user:password@` wins). Null when no URL is given anywhere.
 */
export function registryConfig(url: string | undefined, configFile: string | undefined): RegistryConfig | null {
  const u = url ?? process.env.SCHEMA_REGISTRY_URL;
  const file = configFile ?? process.env.SCHEMA_REGISTRY_CONFIG_FILE;
  if (u === undefined) {
    if (configFile !== undefined) throw new UsageError("--schema-registry-config needs --schema-registry URL");
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw new UsageError(`--schema-registry: '${redactUrl(u)}' is not a URL (expected http(s)://host:port[/path])`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new UsageError(`--schema-registry: expected an http:// or https:// URL, got '${parsed.protocol}'`);
  const conf: RegistryConfig = { url: "", userInfo: process.env.SCHEMA_REGISTRY_USER_INFO || undefined };
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new UsageError(`--schema-registry-config: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const p = parseProperties(text, file);
    const known = new Set([
      "basic.auth.user.info",
      "basic.auth.credentials.source",
      "ssl.ca.location",
      "ssl.certificate.location",
      "ssl.key.location",
      "request.timeout.ms",
    ]);
    for (const k of Object.keys(p))
      if (!known.has(k)) throw new UsageError(`${file}: unknown schema registry property '${k}' (known: ${[...known].join(", ")})`);
    if (p["basic.auth.user.info"]) conf.userInfo = p["basic.auth.user.info"];
    conf.caFile = p["ssl.ca.location"];
    conf.certFile = p["ssl.certificate.location"];
    conf.keyFile = p["ssl.key.location"];
    if (p["request.timeout.ms"]) conf.timeoutMs = Number(p["request.timeout.ms"]);
  }
  if (parsed.username) conf.userInfo = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = "";
  parsed.password = "";
  conf.url = parsed.toString().replace(/\/+$/, "");
  if (conf.userInfo !== undefined && !conf.userInfo.includes(":")) throw new UsageError("schema registry basic auth: expected user:password");
  return conf;
}

/** A registry that did not answer, or answered with an error (status 0: no answer). */
export class RegistryError extends IngestError {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: number,
  ) {
    super(message);
    this.name = "RegistryError";
  }
}

interface Registered {
  id: number;
  version: number;
  subject: string;
}

export class RegistryClient {
  private readonly headers: Record<string, string>;
  private readonly tls: { ca?: string; cert?: string; key?: string } | undefined;
  private readonly byId = new Map<number, Promise<avro.Type>>();

  constructor(readonly conf: RegistryConfig) {
    this.headers = { accept: "application/vnd.schemaregistry.v1+json, application/json", "content-type": "application/vnd.schemaregistry.v1+json" };
    if (conf.userInfo) this.headers.authorization = `Basic ${Buffer.from(conf.userInfo).toString("base64")}`;
    const pem = (what: string, f: string | undefined) => {
      if (!f) return undefined;
      try {
        return readFileSync(f, "utf8");
      } catch (e) {
        throw new UsageError(`schema registry ${what}: cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    };
    const tls = { ca: pem("ssl.ca.location", conf.caFile), cert: pem("ssl.certificate.location", conf.certFile), key: pem("ssl.key.location", conf.keyFile) };
    this.tls = tls.ca || tls.cert ? tls : undefined;
  }

  /** The URL as logs may show it (credentials never are: they travel in a header). */
  get where(): string {
    return this.conf.url;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.conf.url}${path}`, {
        method,
        headers: this.headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.conf.timeoutMs ?? 10_000),
        ...(this.tls ? { tls: this.tls } : {}),
      } as RequestInit);
    } catch (e) {
      const why = (e as Error).name === "TimeoutError" ? `no answer within ${this.conf.timeoutMs ?? 10_000} ms` : (e as Error).message;
      throw new RegistryError(`schema registry ${this.where} does not answer (${method} ${path}): ${why}`, 0);
    }
    const text = await res.text();
    if (res.ok) {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new RegistryError(
          `schema registry ${this.where}: ${method} ${path} answered ${res.status} with something that is not JSON: ${text.slice(0, 200)}`,
          res.status,
        );
      }
    }
    let code: number | undefined;
    let message = text.slice(0, 500);
    try {
      const j = JSON.parse(text) as { error_code?: number; message?: string };
      code = j.error_code;
      if (j.message) message = j.message;
    } catch {}
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError(
        `schema registry ${this.where} refused the credentials (${res.status}${this.conf.userInfo ? "" : ", none were given: see --schema-registry-config basic.auth.user.info"}): ${message}`,
        res.status,
        code,
      );
    }
    throw new RegistryError(`schema registry ${this.where}: ${method} ${path}: ${res.status}${code ? ` (error ${code})` : ""}: ${message}`, res.status, code);
  }

  /**
   * The id and version of `schema` under `subject`: looked up, and registered when the subject
   * does not hold it yet. A schema the registry refuses (incompatible, 409; invalid, 422) throws
   * with the registry's own message.
   */
  async register(subject: string, schema: object): Promise<Registered> {
    const body = { schema: JSON.stringify(schema), schemaType: "AVRO" };
    const path = `/subjects/${encodeURIComponent(subject)}`;
    const lookup = () => this.call<{ id: number; version: number; subject: string }>("POST", path, body);
    try {
      const r = await lookup();
      return { id: r.id, version: r.version, subject };
    } catch (e) {
      // 40401 subject not found, 40403 schema not found: register it.
      if (!(e instanceof RegistryError) || e.status !== 404) throw e;
    }
    let id: number;
    try {
      id = (await this.call<{ id: number }>("POST", `${path}/versions`, body)).id;
    } catch (e) {
      if (e instanceof RegistryError && (e.status === 409 || e.status === 422)) {
        throw new RegistryError(
          `schema registry ${this.where} refused the schema for subject '${subject}' (${e.status === 409 ? "incompatible" : "invalid"}): ${e.message.replace(/^.*?: \d+( \(error \d+\))?: /, "")}`,
          e.status,
          e.code,
        );
      }
      throw e;
    }
    const r = await lookup();
    return { id, version: r.version, subject };
  }

  /** The writer schema with this id (fetched once per id; a failed fetch is asked again next time). */
  schema(id: number): Promise<avro.Type> {
    let p = this.byId.get(id);
    if (!p) {
      p = this.call<{ schema: string; schemaType?: string }>("GET", `/schemas/ids/${id}`).then((r) => {
        if (r.schemaType && r.schemaType !== "AVRO") throw new RegistryError(`schema id ${id} is ${r.schemaType}, not AVRO`, 200);
        return avro.Type.forSchema(JSON.parse(r.schema) as avro.Schema);
      });
      this.byId.set(id, p);
      p.catch(() => this.byId.delete(id));
    }
    return p;
  }
}
