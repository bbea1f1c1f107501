/**
 * What both backends of the LangGraph Store (store.ts) do alike outside SQL: namespaces as stored
 * text, listing them, the text of a value that full-text search indexes, the texts an embeddings
 * model is given, and `filter` read into conditions each backend writes as SQL.
 */
import { ValidationError } from "../errors.js";
import { queryTerms } from "./document-store.js";

/**
 * Labels joined by ".", which no label may contain (LangGraph's rule, checked on every
 * operation), so the text is unambiguous and a namespace's descendants sort right after it.
 */
export const NAMESPACE_SEPARATOR = ".";

export const encodeNamespace = (labels: readonly string[]): string => labels.join(NAMESPACE_SEPARATOR);

export const decodeNamespace = (text: string): string[] => text.split(NAMESPACE_SEPARATOR);

/**
 * The stored namespaces under `prefix` (itself included) are `equal`, or at least `from` and
 * below `to`: one index range on either backend. Null for the empty prefix (everything).
 */
export function namespaceRange(prefix: readonly string[]): { equal: string; from: string; to: string } | null {
  if (prefix.length === 0) return null;
  const equal = encodeNamespace(prefix);
  // "/" is the character after ".": every "equal." + anything sorts between the two.
  return { equal, from: `${equal}${NAMESPACE_SEPARATOR}`, to: `${equal}/` };
}

/** What `listNamespaces` asks for, as LangGraph's ListNamespacesOperation gives it. */
export interface NamespaceListing {
  matchConditions?: ReadonlyArray<{ matchType: "prefix" | "suffix"; path: readonly string[] }>;
  maxDepth?: number;
  limit: number;
  offset: number;
}

/** The labels before the first wildcard of the prefix condition: the part SQL can narrow by. */
export function literalPrefix(listing: NamespaceListing): string[] {
  const prefix = listing.matchConditions?.find((condition) => condition.matchType === "prefix")?.path ?? [];
  const wildcard = prefix.indexOf("*");
  return [...(wildcard === -1 ? prefix : prefix.slice(0, wildcard))];
}

const matches = (namespace: readonly string[], path: readonly string[], fromEnd: boolean) => {
  if (path.length > namespace.length) return false;
  const start = fromEnd ? namespace.length - path.length : 0;
  return path.every((label, index) => label === "*" || namespace[start + index] === label);
};

const compareNamespaces = (left: readonly string[], right: readonly string[]) => {
  for (let index = 0; index < Math.min(left.length, right.length); index += 1) {
    const a = left[index] as string;
    const b = right[index] as string;
    if (a !== b) return a < b ? -1 : 1;
  }
  return left.length - right.length;
};

/**
 * The page of namespaces `listing` asks for among `stored` (distinct stored namespaces): those
 * every condition matches ("*" matches any one label), cut to `maxDepth` labels and deduplicated,
 * in label order.
 */
export function selectNamespaces(stored: readonly string[], listing: NamespaceListing): string[][] {
  const unique = new Map<string, string[]>();
  for (const text of stored) {
    let namespace = decodeNamespace(text);
    if (!(listing.matchConditions ?? []).every((condition) => matches(namespace, condition.path, condition.matchType === "suffix"))) continue;
    if (listing.maxDepth !== undefined) namespace = namespace.slice(0, listing.maxDepth);
    unique.set(encodeNamespace(namespace), namespace);
  }
  return [...unique.values()].sort(compareNamespaces).slice(listing.offset, listing.offset + listing.limit);
}

/** The strings and numbers anywhere in `value`, one a line: what full-text search reads of an item. */
export function searchableText(value: unknown): string {
  const parts: string[] = [];
  const visit = (node: unknown) => {
    if (typeof node === "string") parts.push(node);
    else if (typeof node === "number" || typeof node === "bigint") parts.push(String(node));
    else if (Array.isArray(node)) node.forEach(visit);
    else if (node !== null && typeof node === "object") Object.values(node).forEach(visit);
  };
  visit(value);
  return parts.join("\n");
}

/** Splits a LangGraph field path ("a.b", "items[*].text", "list[-1]") into its steps. */
function pathSteps(path: string): string[] {
  return path.match(/[^.[\]]+|\[[^\]]*\]/g) ?? [];
}

/**
 * The texts at a LangGraph field path of `value`, as LangGraph's stores embed them: "$" is the
 * whole value as JSON; "[*]" every element, "[n]" one (negative from the end); objects and arrays
 * reached become JSON, strings stay, numbers and booleans become text.
 */
export function textsAtPath(value: unknown, path: string): string[] {
  if (path === "$") return [JSON.stringify(value)];
  const walk = (node: unknown, steps: string[]): string[] => {
    if (node === undefined || node === null) return [];
    const [step, ...rest] = steps;
    if (step === undefined) {
      if (typeof node === "string") return [node];
      if (typeof node === "number" || typeof node === "boolean") return [String(node)];
      return [JSON.stringify(node)];
    }
    if (step.startsWith("[")) {
      if (!Array.isArray(node)) return [];
      const index = step.slice(1, -1);
      if (index === "*") return node.flatMap((element) => walk(element, rest));
      const at = Number.parseInt(index, 10);
      if (Number.isNaN(at)) return [];
      return walk(node[at < 0 ? node.length + at : at], rest);
    }
    if (typeof node !== "object" || Array.isArray(node)) return [];
    return walk((node as Record<string, unknown>)[step], rest);
  };
  return walk(value, pathSteps(path));
}

/** A comparison `filter` asks of one top-level field of the value. */
export interface FilterCondition {
  field: string;
  operator: "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$in" | "$nin";
  /** A JSON value; a number or a string for the ordering operators; an array for `$in`/`$nin`. */
  operand: unknown;
}

const OPERATORS = new Set(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"]);
const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * `filter` as conditions, all of which an item must meet. A field's plain value must equal the
 * item's (as JSON: type and nesting count); an object of operators compares: `$eq`, `$ne` (a
 * missing field is not equal), `$gt`/`$gte`/`$lt`/`$lte` (numbers with numbers, strings with
 * strings, by code point; anything else never matches), `$in`/`$nin` (a list of values).
 * A malformed filter is a `ValidationError`.
 */
export function parseFilter(filter: unknown): FilterCondition[] {
  if (filter === undefined || filter === null) return [];
  if (!isPlainObject(filter)) throw new ValidationError("The filter must be an object of field names and values");
  const conditions: FilterCondition[] = [];
  for (const [field, expected] of Object.entries(filter)) {
    if (field.startsWith("$")) throw new ValidationError(`Unsupported filter field ${JSON.stringify(field)}: operators go inside a field, as {"field": {"$gt": 1}}`);
    // SQLite's `->` cannot name such a field; refused on both backends, so a filter means the same on each.
    if (field.includes('"')) throw new ValidationError(`Unsupported filter field ${JSON.stringify(field)}: field names with double quotes cannot be filtered on`);
    if (expected === undefined) continue;
    const keys = isPlainObject(expected) ? Object.keys(expected) : [];
    if (keys.length === 0 || !keys.every((key) => key.startsWith("$"))) {
      conditions.push({ field, operator: "$eq", operand: expected });
      continue;
    }
    for (const [operator, operand] of Object.entries(expected as Record<string, unknown>)) {
      if (!OPERATORS.has(operator)) throw new ValidationError(`Unsupported filter operator ${operator}: use $eq, $ne, $gt, $gte, $lt, $lte, $in or $nin`);
      const ordering = operator !== "$eq" && operator !== "$ne" && operator !== "$in" && operator !== "$nin";
      if (ordering && typeof operand !== "number" && typeof operand !== "string") throw new ValidationError(`${operator} compares with a number or a string`);
      if (ordering && typeof operand === "number" && !Number.isFinite(operand)) throw new ValidationError(`${operator} compares with a finite number`);
      if ((operator === "$in" || operator === "$nin") && !Array.isArray(operand)) throw new ValidationError(`${operator} takes a list of values`);
      conditions.push({ field, operator: operator as FilterCondition["operator"], operand });
    }
  }
  return conditions;
}

/**
 * English words too common to rank by (PostgreSQL's `english` configuration drops the same kind).
 * A recall query is a user's message ("any tips for hiking in Lisbon?"): its "for" and "in"
 * match nearly every item, and ranking all of them is most of a search's time.
 */
const STOPWORDS = new Set(
  ("a about above after again against all am an and any are as at be because been before being below between both but by can could did do does doing " +
    "down during each few for from further had has have having he her here hers herself him himself his how i if in into is it its itself just me more " +
    "most my myself no nor not now of off on once only or other our ours ourselves out over own same she should so some such than that the their theirs " +
    "them themselves then there these they this those through to too under until up very was we were what when where which while who whom why will " +
    "with would you your yours yourself yourselves").split(" "),
);

/** The words of a full-text query that rank: letters and digits only, common English words left out. */
export function storeQueryTerms(query: string): string[] {
  return queryTerms(query).filter((term) => !STOPWORDS.has(term));
}
