import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/errors.js";
import { renderTemplate, resolveSystemPrompt } from "../../src/graph/configuration.js";

describe("renderTemplate", () => {
  it("fills variables and keeps escaped braces", () => {
    expect(renderTemplate("Expert in {topic}, {{not a var}}, {count} items", { topic: "owls", count: 3 })).toBe(
      "Expert in owls, {not a var}, 3 items",
    );
  });

  it("leaves text that is not a placeholder alone", () => {
    expect(renderTemplate('Answer as JSON: { "a": 1 }', {})).toBe('Answer as JSON: { "a": 1 }');
  });

  it("names a missing variable", () => {
    expect(() => renderTemplate("Expert in {topic}", {})).toThrow(ValidationError);
    expect(() => renderTemplate("Expert in {topic}", {})).toThrow("configurable.topic");
  });

  it("refuses objects as values", () => {
    expect(() => renderTemplate("{topic}", { topic: { nested: true } })).toThrow(/string, number or boolean/);
  });
});

describe("resolveSystemPrompt", () => {
  it("prefers configurable.system_prompt", () => {
    expect(resolveSystemPrompt("default", { configurable: { system_prompt: "Hi {name}", name: "Ada" } })).toBe("Hi Ada");
    expect(resolveSystemPrompt("default", { configurable: {} })).toBe("default");
    expect(() => resolveSystemPrompt("default", { configurable: { system_prompt: 42 } })).toThrow(ValidationError);
  });
});
