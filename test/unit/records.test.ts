import { test, expect, describe } from "bun:test";
import { validateUser, validateOrder, decodeRecord, laneOf, kindsOf } from "../../src/consume/records.ts";
import { makeCodec, type Codec } from "../../src/codecs/index.ts";
import { UsageError } from "../../src/core/errors.ts";

const user = {
  id: 7,
  first_name: "Ann",
  last_name: "Lee",
  email: "a@x.test",
  age: 30,
  country: "FR",
  city: "Paris",
  signup_ts: 1700000000000,
  is_active: true,
  score: 12.5,
  phone: null,
};
const order = { order_id: "o-1", customer_id: "42", product_id: "P0001", quantity: 2, amount: 19.99, currency: "EUR", created_at: 1700000000000 };

describe("consume-side validation matches the SQL schema's bounds (a record the database would refuse is poison)", () => {
  test("good records pass unchanged; a numeric customer_id becomes its string; defaults fill currency", () => {
    expect(validateUser(user)).toEqual(user);
    expect(validateUser({ ...user, phone: undefined })).toEqual(user);
    expect(validateUser({ ...user, first_name: "é".repeat(255), country: "x".repeat(64), phone: "9".repeat(64) })).not.toBeTypeOf("string");
    expect(validateOrder({ ...order, customer_id: 42 })).toEqual(order);
    expect((validateOrder({ ...order, currency: undefined }) as { currency: string }).currency).toBe("USD");
  });

  const badUsers: [string, Record<string, unknown>, RegExp][] = [
    ["id not an integer", { id: "7" }, /id must be an integer/],
    ["id beyond 2^53", { id: 2 ** 53 }, /id must be an integer/],
    ["empty email", { email: "" }, /email/],
    ["email over 320", { email: "x".repeat(321) }, /email/],
    ["first_name over 255", { first_name: "x".repeat(256) }, /first_name .*at most 255/],
    ["country over 64", { country: "x".repeat(65) }, /country .*at most 64/],
    ["city not a string", { city: 5 }, /city/],
    ["age beyond INT", { age: 2 ** 31 }, /age must be a 32-bit integer/],
    ["age fractional", { age: 30.5 }, /age/],
    ["signup_ts fractional", { signup_ts: 1.5 }, /signup_ts/],
    ["is_active a string", { is_active: "true" }, /is_active/],
    ["score NaN-like", { score: "1" }, /score/],
    ["phone over 64", { phone: "9".repeat(65) }, /phone/],
    ["phone a number", { phone: 5 }, /phone/],
  ];
  for (const [name, patch, reason] of badUsers) {
    test(`user: ${name}`, () => {
      const r = validateUser({ ...user, ...patch });
      expect(r).toBeTypeOf("string");
      expect(r as string).toMatch(reason);
    });
  }

  const badOrders: [string, Record<string, unknown>, RegExp][] = [
    ["no order_id", { order_id: undefined }, /order_id/],
    ["order_id over 64", { order_id: "x".repeat(65) }, /order_id/],
    ["quantity zero", { quantity: 0 }, /quantity/],
    ["quantity beyond INT", { quantity: 2 ** 31 }, /quantity/],
    ["negative amount", { amount: -1 }, /amount/],
    ["created_at fractional", { created_at: 1.5 }, /created_at/],
    ["currency over 8", { currency: "x".repeat(9) }, /currency/],
  ];
  for (const [name, patch, reason] of badOrders) {
    test(`order: ${name}`, () => {
      const r = validateOrder({ ...order, ...patch });
      expect(r).toBeTypeOf("string");
      expect(r as string).toMatch(reason);
    });
  }

  test("decodeRecord: undecodable bytes and non-objects are reasons, not exceptions", () => {
    const json = makeCodec("json", {});
    const enc = new TextEncoder();
    expect(decodeRecord("users", json, enc.encode("{not json"))).toMatch(/^undecodable json/);
    expect(decodeRecord("users", json, enc.encode("[1,2]"))).toMatch(/^undecodable json/);
    expect(decodeRecord("users", json, new Uint8Array([0x7b, 0xff, 0x7d]))).toMatch(/^undecodable json/);
    expect(decodeRecord("users", json, enc.encode(JSON.stringify(user)))).toEqual(user);
  });

  test("laneOf: a key always maps to the same lane, and keys spread over all lanes", () => {
    const enc = new TextEncoder();
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const k = enc.encode(`customer-${i}`);
      const l = laneOf(k, 0, k.length, 10);
      expect(laneOf(k, 0, k.length, 10)).toBe(l);
      seen.add(l);
    }
    expect(seen.size).toBe(10);
  });

  // Found by mutation testing (docs/testing.md): each pins a behaviour no other test did.
  test("bounds are inclusive: strings at their maximum length and the 32-bit extremes pass", () => {
    expect(
      validateOrder({ ...order, order_id: "x".repeat(64), customer_id: "c".repeat(64), product_id: "p".repeat(64), currency: "x".repeat(8) }),
    ).not.toBeTypeOf("string");
    expect(validateUser({ ...user, email: "e".repeat(320), first_name: "f".repeat(255) })).not.toBeTypeOf("string");
    for (const age of [-(2 ** 31), 2 ** 31 - 1]) expect(validateUser({ ...user, age })).not.toBeTypeOf("string");
    for (const age of [-(2 ** 31) - 1, 2 ** 31]) expect(validateUser({ ...user, age })).toMatch(/age must be a 32-bit integer/);
    expect(validateOrder({ ...order, amount: 0 })).not.toBeTypeOf("string"); // a free order is an order
  });

  test("numbers that are not finite (Avro doubles can carry them) are poison", () => {
    for (const score of [NaN, Infinity]) expect(validateUser({ ...user, score })).toMatch(/score must be a number/);
    for (const amount of [NaN, Infinity]) expect(validateOrder({ ...order, amount })).toMatch(/amount/);
  });

  test("order: a missing or empty customer_id or product_id is poison; a missing created_at is now", () => {
    for (const customer_id of [undefined, "", null]) expect(validateOrder({ ...order, customer_id })).toBe("order: customer_id must be a non-empty string");
    for (const product_id of [undefined, "", 7]) expect(validateOrder({ ...order, product_id })).toBe("order: product_id must be a non-empty string");
    const t0 = Date.now();
    const o = validateOrder({ ...order, created_at: undefined }) as { created_at: number };
    expect(o.created_at).toBeGreaterThanOrEqual(t0);
    expect(o.created_at).toBeLessThanOrEqual(Date.now());
  });

  test("decodeRecord validates by kind, and cuts a decoder's error message to 200 characters", () => {
    const json = makeCodec("json", {});
    expect(decodeRecord("orders", json, new TextEncoder().encode(JSON.stringify(order)))).toEqual(order);
    expect(decodeRecord("orders", json, new TextEncoder().encode(JSON.stringify(user)))).toMatch(/^order: /);
    const noisy = {
      format: "avro",
      decode: () => {
        throw new Error("e".repeat(500));
      },
    } as unknown as Codec;
    expect(decodeRecord("users", noisy, new Uint8Array(1))).toBe(`undecodable avro: ${"e".repeat(200)}`);
  });

  test("laneOf reads the key's bytes only, not what follows it in the batch buffer", () => {
    const a = new TextEncoder().encode("customer-7|value one");
    const b = new TextEncoder().encode("customer-7#another value");
    for (const lanes of [3, 7, 16]) expect(laneOf(a, 0, 10, lanes)).toBe(laneOf(b, 0, 10, lanes));
    const spread = new Set(Array.from({ length: 64 }, (_, i) => laneOf(new TextEncoder().encode(`customer-7${String.fromCharCode(33 + i)}`), 0, 10, 16)));
    expect(spread.size).toBe(1);
  });

  test("kindsOf: --kinds first, else the name's prefix; a name that says neither is a usage error naming it", () => {
    const k = kindsOf(["users-eu", "orders_2024", "events", "users-as-orders"], { events: "users", "users-as-orders": "orders" });
    expect([...k]).toEqual([
      ["users-eu", "users"],
      ["orders_2024", "orders"],
      ["events", "users"],
      ["users-as-orders", "orders"],
    ]);
    expect(() => kindsOf(["eu-users"], {})).toThrow(UsageError);
    expect(() => kindsOf(["eu-users"], {})).toThrow(
      "--topics: cannot tell what topic 'eu-users' carries; name it users* or orders*, or say --kinds users=eu-users",
    );
    expect(() => kindsOf(["x-orders"], {})).toThrow(/topic 'x-orders'/);
  });
});
