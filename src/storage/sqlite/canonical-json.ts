/**
 * JSON text in one canonical form: every object's keys sorted, no spaces. Two JSON values are
 * equal exactly when their canonical texts are, whatever the order their keys were written in,
 * which lets SQLite compare JSON values as PostgreSQL compares `jsonb`.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, member]) => member !== undefined);
    entries.sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    return `{${entries.map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`).join(",")}}`;
  }
  // undefined is no JSON value; as a filter it stands for null, as JSON.stringify writes it in arrays.
  return JSON.stringify(value) ?? "null";
}
