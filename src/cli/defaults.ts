/**
 * Defaults shared by the commands, the README, the Dockerfile and compose.yaml; test/integration/shipping.test.ts
 * checks the deployment files against these, so change them here and there together.
 */
export const DEFAULT_TOPICS = { users: "users", orders: "orders" } as const;
export const DEFAULT_SERVE_PORT = 8080;
export const DEFAULT_GROUP = "ingest";
