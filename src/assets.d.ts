// Files embedded as text with `import x from "./file.avsc" with { type: "text" }`.
declare module "*.avsc" {
  const text: string;
  export default text;
}
