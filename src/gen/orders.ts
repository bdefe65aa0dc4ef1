import { rng, pick } from "./random.ts";
import { PRODUCT_COUNT, productId } from "../core/records.ts";

export const ORDERS_HEADER = "order_id,customer_id,product_id,quantity,amount,currency,created_at";
const CURRENCIES = ["USD", "USD", "USD", "EUR", "GBP"];

/** A deterministic UUID-shaped order id (version nibble 4, variant 10xx) from the PRNG. */
function uuid(r: () => number): string {
  const h = (n: number) =>
    Math.floor(r() * 16 ** n)
      .toString(16)
      .padStart(n, "0");
  return `${h(8)}-${h(4)}-4${h(3)}-${(8 + Math.floor(r() * 4)).toString(16)}${h(3)}-${h(6)}${h(6)}`;
}

/** Order i; customers are ids of generated users (1..customers), as strings. */
export function orderRow(r: () => number, customers: number, t0: number, i: number): string {
  const customer = 1 + Math.floor(r() * customers);
  const product = productId(1 + Math.floor(r() * PRODUCT_COUNT));
  const quantity = 1 + Math.floor(r() * 5);
  const amount = Math.round(quantity * (1 + r() * 199) * 100) / 100;
  return `${uuid(r)},${customer},${product},${quantity},${amount.toFixed(2)},${pick(r, CURRENCIES)},${t0 + i * 7}`;
}

export { rng };
