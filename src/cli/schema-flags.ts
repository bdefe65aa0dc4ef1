/**
 * The flags produce, serve and consume share for the schema registry, record headers and
 * transactions, and what they turn into.
 */
import { UsageError } from "../core/errors.ts";
import { isOldBroker } from "../kafka/index.ts";
import { defineFlags, inGroup } from "./flags.ts";
import { RegistryClient, registryConfig, valueSubject, wireHeader, type SubjectStrategy } from "../codecs/registry.ts";
import type { Format } from "../codecs/index.ts";
import { log } from "../observability/log.ts";

export const REGISTRY_FLAGS = inGroup(
  "Schema registry options (Avro; Confluent's REST API, e.g. Confluent, Apicurio /apis/ccompat/v7)",
  defineFlags({
    "schema-registry": {
      kind: "string",
      placeholder: "URL",
      env: "SCHEMA_REGISTRY_URL",
      envReadBy: "registryConfig",
      help:
        "Avro values in the registry's wire format: magic byte 0, the schema id (4 bytes), the Avro datum " +
        "(produce: with --format avro; serve: orders and users, as data/orders.avsc and data/users.avsc); the value " +
        "schema is registered (or found) under the subject once at start, and a schema the registry refuses stops " +
        "the run before anything is sent. Keys stay plain strings.",
    },
    "schema-registry-config": {
      kind: "path",
      placeholder: "F",
      env: "SCHEMA_REGISTRY_CONFIG_FILE",
      envReadBy: "registryConfig",
      help:
        "properties: basic.auth.user.info=USER:PASSWORD (or env SCHEMA_REGISTRY_USER_INFO, or user:pass@ in the URL), " +
        "ssl.ca.location, ssl.certificate.location, ssl.key.location (PEM), request.timeout.ms (default 10000)",
    },
    // No default applied here: given without --schema-registry it is an error (valueSchemaFromRegistry).
    "subject-strategy": {
      kind: "choice",
      placeholder: "S",
      choices: ["topic", "record"],
      defaultText: "topic",
      help: "topic (TopicNameStrategy, <topic>-value) | record (RecordNameStrategy: the record's full name)",
    },
  }),
);

export interface RegistryValues {
  "schema-registry"?: string;
  "schema-registry-config"?: string;
  "subject-strategy"?: string;
}

/** The registry client the flags (or environment) ask for, or null. */
export function registryClient(values: RegistryValues): RegistryClient | null {
  const conf = registryConfig(values["schema-registry"], values["schema-registry-config"]);
  return conf ? new RegistryClient(conf) : null;
}

export interface RegisteredSchema {
  id: number;
  version: number;
  subject: string;
  /** The wire header every value starts with. */
  prefix: Uint8Array;
}

/**
 * With a registry: register (or find) the value schema under its subject and return its id and
 * wire header; null without one. Only Avro values go through a registry here.
 */
export async function valueSchemaFromRegistry(
  values: RegistryValues,
  format: Format,
  topic: string,
  schema: { name: string; namespace?: string },
): Promise<RegisteredSchema | null> {
  const strategy = (values["subject-strategy"] ?? REGISTRY_FLAGS["subject-strategy"].defaultText) as SubjectStrategy;
  if (strategy !== "topic" && strategy !== "record") throw new UsageError(`--subject-strategy: '${strategy}' is not one of topic|record`);
  const client = registryClient(values);
  if (!client) {
    if (values["subject-strategy"]) throw new UsageError("--subject-strategy needs --schema-registry");
    return null;
  }
  if (format !== "avro") {
    // Only the flag is an error: SCHEMA_REGISTRY_URL in the environment applies to Avro runs.
    if (values["schema-registry"] !== undefined)
      throw new UsageError(`--schema-registry: only --format avro values go through a schema registry (got --format ${format})`);
    return null;
  }
  const subject = valueSubject(strategy, topic, schema);
  const r = await client.register(subject, schema);
  log.info({ registry: client.where, subject, id: r.id, version: r.version }, "schema registry: value schema registered");
  return { ...r, prefix: wireHeader(r.id) };
}

export const CONTENT_TYPES: Record<Format, string> = { json: "application/json", avro: "avro/binary", msgpack: "application/msgpack" };

/**
 * The one header every produced record carries: what its value is, with the schema as
 * parameters when known, e.g. `avro/binary; schema=ingest.User; schema-id=3; version=1`. One
 * header, not one per fact: librdkafka allocates each record's header list and every header in
 * it (docs/schema-registry-and-transactions.md has what a header costs).
 */
export function contentHeaders(
  format: Format,
  schema: { name: string; namespace?: string } | null,
  registered: RegisteredSchema | null,
): Record<string, string> {
  let v = CONTENT_TYPES[format];
  if (schema) v += `; schema=${schema.name.includes(".") || !schema.namespace ? schema.name : `${schema.namespace}.${schema.name}`}`;
  if (registered) v += `; schema-id=${registered.id}; version=${registered.version}`;
  return { "content-type": v };
}

/**
 * The transactional id from --transactional-id or the properties file's transactional.id (taken
 * out of the properties: each worker's producer gets its own, ID-0, ID-1, ...). A broker that
 * cannot have transactions is a usage error here, never a silent run without them.
 */
export function transactionalId(flag: string | undefined, kafka: Record<string, string>): string | null {
  const fromFile = kafka["transactional.id"];
  delete kafka["transactional.id"];
  const id = flag ?? fromFile;
  if (id === undefined) return null;
  if (!id) throw new UsageError("--transactional-id: must not be empty");
  if (isOldBroker(kafka))
    throw new UsageError(`--transactional-id: the broker version ${kafka["broker.version.fallback"] ?? "0.10"} has no transactions (Kafka 0.11+)`);
  if (kafka.acks && kafka.acks !== "all" && kafka.acks !== "-1") throw new UsageError(`--transactional-id needs --acks all (got ${kafka.acks})`);
  if (/^(false|0)$/i.test(kafka["enable.idempotence"] ?? "")) throw new UsageError("--transactional-id needs enable.idempotence (it is set to false)");
  return id;
}
