/**
 * Minimal placeholder, replaced at merge by the full version (which checks every setting and
 * returns typed `RunSettings`): checks `system_prompt` only.
 */
import { ValidationError } from "../errors.js";

/** The settings a run's `configurable` names; throws ValidationError (422) naming a bad field. */
export function parseRunSettings(configurable: Record<string, unknown>): Record<string, unknown> {
  const prompt = configurable.system_prompt;
  if (prompt !== undefined && prompt !== null && typeof prompt !== "string") throw new ValidationError("system_prompt must be a string");
  return configurable;
}
