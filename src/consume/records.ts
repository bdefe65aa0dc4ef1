import type { Codec } from "../codecs/index.ts";
import type { User, Order } from "../core/records.ts";
import { UsageError } from "../core/errors.ts";

export type Kind = "users" | "orders";

/**
 * What a topic carries: `--kinds users=a,orders=b` when given, else by name (a topic named
 * users* carries users, orders* orders).
 */
export function kindsOf(topics: string[], explicit: Record<string, Kind>): Map<string, Kind> {
  const out = new Map<string, Kind>();
  for (const t of topics) {
    const k = explicit[t] ?? (t.startsWith("users") ? "users" : t.startsWith("orders") ? "orders" : undefined);
    if (!k) throw new UsageError(`--topics: cannot tell what topic '${t}' carries; name it users* or orders*, or say --kinds users=${t}`);
    out.set(t, k);
  }
  return out;
}

const isStr = (v: unknown, max = 1000): v is string => typeof v === "string" && v.length > 0 && v.length <= max;
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Decode and validate one value; a string is the reason it is poison. */
export function decodeRecord(kind: Kind, codec: Codec, bytes: Uint8Array): User | Order | string {
  let v: Record<string, unknown>;
  try {
    v = codec.decode(bytes);
  } catch (e) {
    return `undecodable ${codec.format}: ${(e as Error).message.slice(0, 200)}`;
  }
  return kind === "users" ? validateUser(v) : validateOrder(v);
}

// What the stores can hold (not what serve lets a client send: see http/validate.ts).
// Bounds follow the SQL schema (src/sinks/sql/*/), so a record the database would
// refuse is poison here (dead-lettered) rather than a store error no retry can fix. A JS string's
// length counts UTF-16 units, never fewer than the characters VARCHAR(n) counts.
const INT_MAX = 2_147_483_647;
const isInt32 = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= -INT_MAX - 1 && (v as number) <= INT_MAX;
const USER_STRINGS = [
  ["first_name", 255],
  ["last_name", 255],
  ["country", 64],
  ["city", 255],
] as const;

export function validateUser(v: Record<string, unknown>): User | string {
  if (!Number.isSafeInteger(v.id)) return "user: id must be an integer";
  if (!isStr(v.email, 320)) return "user: email must be a non-empty string of at most 320 characters";
  for (const [f, max] of USER_STRINGS)
    if (typeof v[f] !== "string" || (v[f] as string).length > max) return `user: ${f} must be a string of at most ${max} characters`;
  if (!isInt32(v.age)) return "user: age must be a 32-bit integer";
  if (!Number.isSafeInteger(v.signup_ts)) return "user: signup_ts must be epoch milliseconds (an integer)";
  if (typeof v.is_active !== "boolean") return "user: is_active must be a boolean";
  if (!isNum(v.score)) return "user: score must be a number";
  if (v.phone !== null && v.phone !== undefined && (typeof v.phone !== "string" || v.phone.length > 64))
    return "user: phone must be null or a string of at most 64 characters";
  return {
    id: v.id as number,
    first_name: v.first_name as string,
    last_name: v.last_name as string,
    email: v.email,
    age: v.age as number,
    country: v.country as string,
    city: v.city as string,
    signup_ts: v.signup_ts as number,
    is_active: v.is_active,
    score: v.score,
    phone: (v.phone as string | null | undefined) ?? null,
  };
}

export function validateOrder(v: Record<string, unknown>): Order | string {
  if (!isStr(v.order_id, 64)) return "order: order_id must be a non-empty string";
  const customer = typeof v.customer_id === "number" ? String(v.customer_id) : v.customer_id;
  if (!isStr(customer, 64)) return "order: customer_id must be a non-empty string";
  if (!isStr(v.product_id, 64)) return "order: product_id must be a non-empty string";
  if (!isInt32(v.quantity) || v.quantity <= 0) return "order: quantity must be a positive 32-bit integer";
  if (!isNum(v.amount) || v.amount < 0) return "order: amount must be a non-negative number";
  const created = v.created_at === undefined ? Date.now() : v.created_at;
  if (!Number.isSafeInteger(created)) return "order: created_at must be epoch milliseconds (an integer)";
  const currency = v.currency === undefined ? "USD" : v.currency;
  if (!isStr(currency, 8)) return "order: currency must be a short string";
  return {
    order_id: v.order_id,
    customer_id: customer,
    product_id: v.product_id,
    quantity: v.quantity as number,
    amount: v.amount,
    currency,
    created_at: created as number,
  };
}

/** FNV-1a over the key bytes: which lane a key belongs to (same key, same lane, always). */
export function laneOf(data: Uint8Array, start: number, len: number, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < start + len; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return (h >>> 0) % lanes;
}
