/**
 * Validation of HTTP intake bodies: every problem is reported with its field (and index).
 *
 * Not the same job as consume/records.ts (validateUser/validateOrder): this is the intake's
 * policy for what a client may send (id characters, unknown fields refused, 2-decimal amounts,
 * tighter name lengths), answered as 400s with every field at once; records.ts decides what the
 * stores can hold (the SQL column bounds) for records already in Kafka, whoever wrote them, and
 * dead-letters the rest with one reason. A record serve accepts always passes records.ts.
 */
export interface FieldError {
  index?: number;
  field: string;
  message: string;
}

export interface OrderIn {
  customer_id: string;
  product_id: string;
  quantity: number;
  amount: number;
  currency: string;
}

const ID_MAX = 64;
const ID_RE = /^[A-Za-z0-9._:-]+$/;
const ORDER_FIELDS = new Set(["customer_id", "product_id", "quantity", "amount", "currency"]);

function idField(v: unknown, field: string, errors: FieldError[], index?: number): string | undefined {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) v = String(v);
  if (typeof v !== "string" || v.length === 0) return void errors.push({ index, field, message: "required: a non-empty string" });
  if (v.length > ID_MAX) return void errors.push({ index, field, message: `at most ${ID_MAX} characters` });
  if (!ID_RE.test(v)) return void errors.push({ index, field, message: "letters, digits and . _ : - only" });
  return v;
}

/**
 * Whether a non-negative number below 1e12 was written with at most 2 decimals. Decided on its
 * shortest decimal form (String), not on a*100: for large amounts a*100 is not an integer in
 * binary (12345678901.23 * 100 = 1234567890123.0002), which refused valid amounts.
 */
export function atMostTwoDecimals(a: number): boolean {
  const s = String(a);
  if (s.includes("e")) return a === 0; // below 1e-6: more than 2 decimals
  const dot = s.indexOf(".");
  return dot < 0 || s.length - dot - 1 <= 2;
}

/** One order: customer_id, product_id, quantity (positive integer), amount (>= 0, 2 decimals). */
export function checkOrderRequest(body: unknown, errors: FieldError[], index?: number): OrderIn | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    errors.push({ index, field: "", message: "expected a JSON object" });
    return undefined;
  }
  const b = body as Record<string, unknown>;
  const before = errors.length;
  const customer_id = idField(b.customer_id, "customer_id", errors, index);
  const product_id = idField(b.product_id, "product_id", errors, index);
  const q = b.quantity;
  if (typeof q !== "number" || !Number.isInteger(q) || q <= 0 || q > 1_000_000)
    errors.push({ index, field: "quantity", message: "a positive integer up to 1000000" });
  const a = b.amount;
  if (typeof a !== "number" || !Number.isFinite(a) || a < 0 || a > 1e12) errors.push({ index, field: "amount", message: "a non-negative number" });
  else if (!atMostTwoDecimals(a)) errors.push({ index, field: "amount", message: "at most 2 decimals" });
  const c = b.currency ?? "USD";
  if (typeof c !== "string" || !/^[A-Z]{3}$/.test(c)) errors.push({ index, field: "currency", message: "a 3-letter ISO 4217 code" });
  for (const k in b) {
    if (!ORDER_FIELDS.has(k)) errors.push({ index, field: k, message: "unknown field" });
  }
  if (errors.length > before) return undefined;
  return { customer_id: customer_id!, product_id: product_id!, quantity: q as number, amount: a as number, currency: c as string };
}

/**
 * The stored order as JSON text, same fields and order as JSON.stringify({order_id, ...order,
 * created_at}). Written directly because every part is already validated: ids match ID_RE and
 * the currency is [A-Z]{3} (nothing to escape), numbers are finite (String() equals JSON).
 */
export function orderJson(orderId: string, o: OrderIn, createdAt: number): string {
  return `{"order_id":"${orderId}","customer_id":"${o.customer_id}","product_id":"${o.product_id}","quantity":${o.quantity},"amount":${o.amount},"currency":"${o.currency}","created_at":${createdAt}}`;
}

/** A user for POST /users, checked against the user schema's fields. */
export function checkUserRequest(body: unknown, errors: FieldError[]): Record<string, unknown> | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    errors.push({ field: "", message: "expected a JSON object" });
    return undefined;
  }
  const b = body as Record<string, unknown>;
  const before = errors.length;
  const str = (f: string, max: number, required = true) => {
    const v = b[f];
    if (v === undefined || v === null) {
      if (required) errors.push({ field: f, message: "required" });
      return;
    }
    if (typeof v !== "string" || v.length > max || (required && v.length === 0)) errors.push({ field: f, message: `a string of 1..${max} characters` });
  };
  if (!Number.isSafeInteger(b.id) || (b.id as number) < 0) errors.push({ field: "id", message: "a non-negative integer" });
  str("first_name", 200);
  str("last_name", 200);
  str("email", 320);
  if (typeof b.email === "string" && !/^[^@\s]+@[^@\s]+$/.test(b.email)) errors.push({ field: "email", message: "an email address" });
  if (!Number.isInteger(b.age) || (b.age as number) < 0 || (b.age as number) > 150) errors.push({ field: "age", message: "an integer 0..150" });
  str("country", 2);
  str("city", 200);
  if (b.signup_ts !== undefined && (typeof b.signup_ts !== "number" || !Number.isSafeInteger(b.signup_ts)))
    errors.push({ field: "signup_ts", message: "epoch milliseconds" });
  if (b.is_active !== undefined && typeof b.is_active !== "boolean") errors.push({ field: "is_active", message: "a boolean" });
  if (b.score !== undefined && (typeof b.score !== "number" || !Number.isFinite(b.score))) errors.push({ field: "score", message: "a number" });
  str("phone", 40, false);
  const known = ["id", "first_name", "last_name", "email", "age", "country", "city", "signup_ts", "is_active", "score", "phone"];
  for (const k of Object.keys(b)) if (!known.includes(k)) errors.push({ field: k, message: "unknown field" });
  if (errors.length > before) return undefined;
  return {
    id: b.id,
    first_name: b.first_name,
    last_name: b.last_name,
    email: b.email,
    age: b.age,
    country: b.country,
    city: b.city,
    signup_ts: b.signup_ts ?? Date.now(),
    is_active: b.is_active ?? true,
    score: b.score ?? 0,
    phone: b.phone ?? null,
  };
}
