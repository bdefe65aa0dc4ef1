// Files embedded as text with `import x from "./file.avsc" with { type: "text" }`.
declare module "*.avsc" {
  const text: string;
  export default text;
}

// C sources compiled at run time by bun:ffi's cc (src/kafka/native), imported as text.
declare module "*.c" {
  const text: string;
  export default text;
}

// The dashboard's page, embedded in the executable as text (src/monitor/server.ts).
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "*.iife.min.js" {
  const text: string;
  export default text;
}
declare module "*/page/app.js" {
  const text: string;
  export default text;
}
