/**
 * How consume turns a record's value into a user or an order: the decoder its content-type
 * header names (application/json, avro/binary, application/msgpack), else --format's; Avro with
 * --schema-registry in the registry's wire format, its writer schema fetched by id (once per
 * id) and resolved against the kind's reader schema, so a writer that added an optional field
 * or a default is read. Every failure is a reason string: the record goes to the DLQ with it.
 */
import avro from "avsc";
import { makeCodec, type Codec, type Format } from "../codecs/index.ts";
import { RegistryError, wireSchemaId, WIRE_HEADER_BYTES, type RegistryClient } from "../codecs/registry.ts";
import type { RecordBatch } from "../kafka/index.ts";
import type { User, Order } from "../core/records.ts";
import { validateOrder, validateUser, type Kind } from "./records.ts";

/** RecordBatch.contentType codes (see kafka/consumer.ts CONTENT_TYPE) to formats. */
const BY_CODE: (Format | undefined)[] = [undefined, "json", "avro", "msgpack"];

type Resolver = ReturnType<avro.Type["createResolver"]>;
type Resolved = { writer: avro.Type; resolvers: Partial<Record<Kind, Resolver | string>> };

export class ValueDecoder {
  private readonly codecs: Record<Format, Record<Kind, Codec>>;
  private readonly readers: Record<Kind, avro.Type>;
  /** Writer schemas fetched, by id. */
  private readonly writers = new Map<number, Resolved>();
  /** Ids the last prepare() could not fetch, with why (asked again at the next batch that needs them). */
  private readonly failed = new Map<number, string>();

  constructor(
    readonly format: Format,
    schemas: Record<Kind, object>,
    readonly registry: RegistryClient | null,
  ) {
    const kinds = Object.keys(schemas) as Kind[];
    const per = (f: Format) => Object.fromEntries(kinds.map((k) => [k, makeCodec(f, schemas[k])])) as Record<Kind, Codec>;
    this.codecs = { json: per("json"), avro: per("avro"), msgpack: per("msgpack") };
    this.readers = Object.fromEntries(kinds.map((k) => [k, avro.Type.forSchema(schemas[k] as avro.Schema)])) as Record<Kind, avro.Type>;
  }

  private formatOf(code: number): Format {
    return BY_CODE[code] ?? this.format;
  }

  /** Writer schema ids of this batch's registry-framed values that are not fetched yet. */
  private missing(b: RecordBatch): Set<number> {
    const ids = new Set<number>();
    if (!this.registry) return ids;
    const ct = b.contentType;
    for (let i = 0; i < b.count; i++) {
      if (this.formatOf(ct ? ct[i]! : 0) !== "avro" || b.valLen[i]! < WIRE_HEADER_BYTES) continue;
      const id = wireSchemaId(b.data.subarray(b.valStart[i]!, b.valStart[i]! + WIRE_HEADER_BYTES));
      if (typeof id === "number" && !this.writers.has(id)) ids.add(id);
    }
    return ids;
  }

  /**
   * Before a batch is decoded: fetch the writer schemas it needs (in parallel, once per id). A
   * registry that does not answer, or does not know an id, is remembered for this batch: those
   * records go to the DLQ with the reason, and the next batch asks again.
   */
  async prepare(b: RecordBatch): Promise<void> {
    this.failed.clear();
    const ids = this.missing(b);
    if (!ids.size) return;
    await Promise.all(
      [...ids].map(async (id) => {
        try {
          this.writers.set(id, { writer: await this.registry!.schema(id), resolvers: {} });
        } catch (e) {
          const unknown = e instanceof RegistryError && e.status === 404;
          this.failed.set(id, unknown ? `unknown schema id ${id}: ${e.message}` : `schema id ${id} not fetched: ${(e as Error).message}`);
        }
      }),
    );
  }

  /** Whether prepare() has work for this batch (an id not fetched yet). */
  needsPrepare(b: RecordBatch): boolean {
    return this.registry !== null && this.missing(b).size > 0;
  }

  /** Decode and validate one value (its content-type code from the batch); a string is the reason it is poison. */
  decode(kind: Kind, bytes: Uint8Array, contentType: number): User | Order | string {
    const format = this.formatOf(contentType);
    let v: Record<string, unknown>;
    try {
      v = format === "avro" && this.registry ? this.fromWire(kind, bytes) : this.codecs[format][kind].decode(bytes);
    } catch (e) {
      return `undecodable ${format}: ${(e as Error).message.slice(0, 300)}`;
    }
    return kind === "users" ? validateUser(v) : validateOrder(v);
  }

  /** A registry wire-format value, read with its writer schema resolved against the reader's. */
  private fromWire(kind: Kind, bytes: Uint8Array): Record<string, unknown> {
    const id = wireSchemaId(bytes);
    if (typeof id === "string") throw new Error(id);
    const w = this.writers.get(id);
    if (!w) throw new Error(this.failed.get(id) ?? `schema id ${id} not fetched`);
    let r = w.resolvers[kind];
    if (r === undefined) {
      try {
        r = this.readers[kind].createResolver(w.writer);
      } catch (e) {
        r = `writer schema id ${id} cannot be read as ${this.readers[kind].name ?? kind}: ${(e as Error).message}`;
      }
      w.resolvers[kind] = r;
    }
    if (typeof r === "string") throw new Error(r);
    const body = Buffer.from(bytes.buffer, bytes.byteOffset + WIRE_HEADER_BYTES, bytes.byteLength - WIRE_HEADER_BYTES);
    return this.readers[kind].fromBuffer(body, r) as Record<string, unknown>;
  }
}
