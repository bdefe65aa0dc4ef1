import { pick } from "./random.ts";
import { csvField } from "../csv/quote.ts";

// Names include multi-byte text, an apostrophe, a comma and a quote, so every CSV path is used.
const FIRST = [
  "Ana",
  "Bruno",
  "Chloé",
  "Dmitri",
  "Eitan",
  "Fatima",
  "Giulia",
  "Hiro",
  "Ingrid",
  "João",
  "Kwame",
  "Léa",
  "Mateo",
  "Nadia",
  "Oskar",
  "Priya",
  "Quentin",
  "Rosa",
  "Søren",
  "Tomás",
  "Uma",
  "Viktor",
  "Wen",
  "Xavier",
  "Yara",
  "Zoë",
  "Zoltán",
  "Björk",
  "Renée",
  "李",
  "Мария",
  "محمد",
];
const LAST = [
  "Almeida",
  "Brown",
  "Castillo",
  "Dubois",
  "Eriksson",
  "Fischer",
  "García",
  "Hernández",
  "Ivanova",
  "Jensen",
  "Kowalski",
  "López",
  "Müller",
  "Nakamura",
  "O'Brien",
  "Petrović",
  "Quinn",
  "Rossi",
  "Schmidt",
  "Tanaka",
  "Ünal",
  "Van der Berg",
  "Wiśniewski",
  "Smith, Jr.",
  'Lee "Ace"',
  "王",
  "Ковалёв",
];
const PLACES: readonly [string, string][] = [
  ["US", "New York"],
  ["US", "San Francisco"],
  ["BR", "São Paulo"],
  ["FR", "Paris"],
  ["DE", "München"],
  ["JP", "東京"],
  ["IN", "Bengaluru"],
  ["GB", "London"],
  ["ES", "Málaga"],
  ["IT", "Milano"],
  ["NL", "Amsterdam"],
  ["SE", "Göteborg"],
  ["PL", "Kraków"],
  ["TR", "İstanbul"],
  ["NG", "Lagos"],
  ["MX", "Ciudad de México"],
  ["CA", "Montréal"],
  ["AU", "Sydney"],
];
const DOMAINS = ["example.com", "mail.test", "example.org", "corp.example"];
const EPOCH_2015 = 1420070400000;
const SPAN_MS = 10 * 365 * 24 * 3600 * 1000;

const ascii = (s: string) =>
  s
    .normalize("NFD")
    .replace(/[^A-Za-z]/g, "")
    .toLowerCase();
const FIRST_ASCII = FIRST.map((f) => ascii(f) || "user");
const LAST_ASCII = LAST.map((l) => ascii(l) || "x");

export const USERS_HEADER = "id,first_name,last_name,email,age,country,city,signup_ts,is_active,score,phone";

/** Row i of the users table for a seed; ids are 1..N. */
export function userRow(r: () => number, id: number): string {
  const fi = Math.floor(r() * FIRST.length);
  const li = Math.floor(r() * LAST.length);
  const first = FIRST[fi]!;
  const last = LAST[li]!;
  const [country, city] = pick(r, PLACES);
  const email = `${FIRST_ASCII[fi]}.${LAST_ASCII[li]}.${id}@${pick(r, DOMAINS)}`;
  const age = 18 + Math.floor(r() * 70);
  const signup = EPOCH_2015 + Math.floor(r() * SPAN_MS);
  const active = r() < 0.8 ? "true" : "false";
  const score = Math.round(r() * 100000) / 100;
  const phone = r() < 0.3 ? "" : `+1-555-${String(Math.floor(r() * 10000)).padStart(4, "0")}`;
  return `${id},${csvField(first)},${csvField(last)},${email},${age},${country},${csvField(city)},${signup},${active},${score},${phone}`;
}
