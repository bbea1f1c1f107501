/**
 * A `WHERE` clause built from optional filters, each value a numbered parameter (`$1`, `$2`,
 * ...), so no value is ever written into SQL.
 */
export class WhereClause {
  readonly #clauses: string[] = [];
  /** The values of the placeholders, in order. */
  readonly parameters: unknown[] = [];

  /** Adds `clause`, given a placeholder for each of `values`. */
  add(clause: (...placeholders: string[]) => string, ...values: unknown[]): this {
    const placeholders = values.map((value) => {
      this.parameters.push(value);
      return `$${this.parameters.length}`;
    });
    this.#clauses.push(clause(...placeholders));
    return this;
  }

  /** Each key of `metadata` equals its JSON value in column `metadata`; a missing key matches null, as on SQLite. */
  metadata(metadata: Record<string, unknown> | undefined): this {
    for (const [key, value] of Object.entries(metadata ?? {})) {
      this.add((name, json) => `coalesce(metadata -> ${name}, 'null'::jsonb) = ${json}::jsonb`, key, JSON.stringify(value));
    }
    return this;
  }

  /** `WHERE …` with every clause, or nothing when there is none. */
  get sql(): string {
    return this.#clauses.length > 0 ? `WHERE ${this.#clauses.join(" AND ")}` : "";
  }
}
