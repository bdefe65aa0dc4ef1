import type { AvroRecordSchema } from "../../src/csv/schema-rows.ts";

/** A schema with every type the CSV path reads, nullable and defaulted variants, one field absent from the CSV. */
export const WIDE_SCHEMA: AvroRecordSchema = {
  type: "record",
  name: "Wide",
  fields: [
    { name: "id", type: "long" },
    { name: "name", type: "string" },
    { name: "n", type: "int" },
    { name: "x", type: "double" },
    { name: "f", type: "float" },
    { name: "ok", type: "boolean" },
    { name: "color", type: { type: "enum", name: "Color", symbols: ["RED", "GREEN", "BLUE"] } },
    { name: "ts", type: { type: "long", logicalType: "timestamp-millis" } },
    { name: "note", type: ["null", "string"], default: null },
    { name: "maybe", type: ["long", "null"], default: 0 },
    { name: "label", type: "string", default: "none" },
    { name: "absent", type: "int", default: 42 },
  ],
};
