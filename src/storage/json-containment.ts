/**
 * JSON containment as PostgreSQL's `jsonb @>` decides it, for the backends and the server alike:
 * SQLite answers thread search by values with it (as a SQL function), and the server checks with
 * it what the stored projection of a thread's values cannot answer (its messages).
 */

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Whether `container` contains `contained`: an object contains an object whose every key it has
 * with a value containing the given one; an array contains an array each of whose elements some
 * element of it contains (order and repeats do not matter); other values contain only an equal
 * value (numbers by value, so 1 and 1.0 are one). An object never contains an array, nor an array
 * an object. (jsonb's one exception, a top-level array containing a bare scalar, does not arise:
 * thread values are objects.)
 */
export function jsonContains(container: unknown, contained: unknown): boolean {
  if (isObject(contained)) {
    if (!isObject(container)) return false;
    return Object.entries(contained).every(([key, value]) => value === undefined || (Object.hasOwn(container, key) && jsonContains(container[key], value)));
  }
  if (Array.isArray(contained)) {
    if (!Array.isArray(container)) return false;
    return contained.every((wanted) => container.some((item) => jsonContains(item, wanted)));
  }
  if (isObject(container) || Array.isArray(container)) return false;
  // undefined is no JSON value: as JSON text writes it in arrays, it stands for null.
  return (container ?? null) === (contained ?? null);
}
