// The one test of parsed JSON every reader shares (events, manifests, token answers): an object, not null, not an array.
export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
