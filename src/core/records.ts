/** The records ingest carries (data/users.avsc, data/orders.avsc) and the product catalogue the stores keep. */

/** data/users.avsc */
export interface User {
  id: number;
  first_name: string;
  last_name: string;
  email: string;
  age: number;
  country: string;
  city: string;
  /** epoch milliseconds */
  signup_ts: number;
  is_active: boolean;
  score: number;
  phone: string | null;
}

/** data/orders.avsc */
export interface Order {
  order_id: string;
  customer_id: string;
  product_id: string;
  quantity: number;
  amount: number;
  currency: string;
  /** epoch milliseconds */
  created_at: number;
}

export interface Product {
  product_id: string;
  name: string;
  price: number;
  stock: number;
  /** Incremented on every stock change; lets the cache refuse an older value arriving late. */
  version: number;
  /** epoch milliseconds */
  updated_at: number;
}

export const PRODUCT_COUNT = 1000;

/** Product ids of the catalog the consumer seeds: P0001..P1000. */
export function productId(n: number): string {
  return `P${String(n).padStart(4, "0")}`;
}
