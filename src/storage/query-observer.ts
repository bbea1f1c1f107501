/**
 * How the server times the database without storage knowing about metrics: each backend's
 * `Database` calls the observer it is given after every statement and transaction.
 */

/** What was timed: one statement, or a whole transaction (its statements are timed too on SQLite). */
export type QueryOperation = "statement" | "transaction";

/** Called after each statement or transaction with how long it took, in seconds; it must return at once. */
export type QueryObserver = (operation: QueryOperation, seconds: number) => void;
