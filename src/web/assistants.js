// @ts-check
/**
 * The web chat's assistants: the picker in the chat's header (the owner's assistants, the graph's
 * own first) and the dialog that creates one or edits the one picked (name, system prompt, model,
 * temperature), over the API's `/assistants` endpoints. Saving an edit makes a new version; the
 * graph's own assistant cannot be changed, so it offers "Duplicate" instead.
 */

/**
 * @typedef {{ assistant_id: string, name: string, version: number, config: { configurable?: Record<string, unknown>, [key: string]: unknown }, context: Record<string, unknown>, metadata: Record<string, unknown> | null }} AssistantInfo
 * @typedef {(method: string, path: string, body?: unknown) => Promise<any>} Api
 */

/** The graph the server serves; every assistant here is one of its. */
const GRAPH_ID = "agent";
/** The settings the editor shows; every other key of an assistant's settings is kept as it is. */
const EDITED = ["system_prompt", "model", "temperature"];

/** Whether the server made this assistant (the graph's own): it cannot be changed. */
export const isSystem = (/** @type {AssistantInfo} */ assistant) => assistant.metadata?.created_by === "system";

/** The name the picker shows. */
export const labelOf = (/** @type {AssistantInfo} */ assistant) => (isSystem(assistant) ? `${assistant.name} (default)` : assistant.name);

/**
 * What the assistant's runs get for `key`: its context wins over its config, as on the server.
 * @param {AssistantInfo} assistant
 * @param {string} key
 */
function settingOf(assistant, key) {
  const value = assistant.context?.[key] ?? assistant.config?.configurable?.[key];
  return value === undefined || value === null ? "" : String(value);
}

/**
 * @param {Record<string, unknown> | undefined} record
 * @returns {Record<string, unknown>} `record` without the keys the editor sets
 */
const withoutEdited = (record) => Object.fromEntries(Object.entries(record ?? {}).filter(([key]) => !EDITED.includes(key)));

/**
 * Wires the picker and the dialog. `onChoose` is told when the user picks an assistant (or creates
 * one, which is then picked); the page decides what the choice applies to.
 * @param {{ api: Api, onChoose: (assistantId: string) => void }} options
 */
export function createAssistantsPanel({ api, onChoose }) {
  const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const picker = /** @type {HTMLSelectElement} */ (byId("assistant"));
  const dialog = /** @type {HTMLDialogElement} */ (byId("assistant-dialog"));
  const form = /** @type {HTMLFormElement} */ (byId("assistant-form"));
  const heading = byId("assistant-heading");
  const help = byId("assistant-help");
  const name = /** @type {HTMLInputElement} */ (byId("assistant-name"));
  const prompt = /** @type {HTMLTextAreaElement} */ (byId("assistant-prompt"));
  const model = /** @type {HTMLInputElement} */ (byId("assistant-model"));
  const temperature = /** @type {HTMLInputElement} */ (byId("assistant-temperature"));
  const save = /** @type {HTMLButtonElement} */ (byId("assistant-save"));
  const duplicate = /** @type {HTMLButtonElement} */ (byId("assistant-duplicate"));
  const error = byId("assistant-error");
  /** @type {AssistantInfo[]} the graph's own first, then by name */
  let assistants = [];
  /** @type {AssistantInfo | null} the assistant the dialog edits; null: it creates one */
  let editing = null;

  /** @param {unknown} failure */
  const showError = (failure) => {
    error.textContent = failure instanceof Error ? failure.message : String(failure);
    error.hidden = false;
  };

  async function refresh() {
    /** @type {AssistantInfo[]} */
    const found = await api("POST", "/assistants/search", { graph_id: GRAPH_ID, limit: 1000, sort_by: "name", sort_order: "asc" });
    assistants = [...found.filter(isSystem), ...found.filter((assistant) => !isSystem(assistant))];
    show(picker.value);
  }

  /**
   * Shows `assistantId` in the picker; the graph's own when empty. One the list does not hold
   * (deleted, or another owner's) is still shown, so a chat says what it was made with.
   * @param {string} assistantId
   */
  function show(assistantId) {
    const value = assistantId || defaultId();
    const options = assistants.map((assistant) => ({ value: assistant.assistant_id, label: labelOf(assistant) }));
    if (value !== "" && !options.some((option) => option.value === value)) options.push({ value, label: "(deleted assistant)" });
    picker.replaceChildren(
      ...options.map((option) => {
        const element = document.createElement("option");
        element.value = option.value;
        element.textContent = option.label;
        return element;
      }),
    );
    picker.value = value;
  }

  /** The graph's own assistant's id ("" until the list is read). */
  const defaultId = () => assistants.find(isSystem)?.assistant_id ?? "";

  /**
   * Fills the form: with `assistant` to edit it (or, for the graph's own, to read it), with
   * `copyOf` to create a copy of it, with neither to create one from nothing.
   * @param {AssistantInfo | null} assistant
   * @param {AssistantInfo | null} [copyOf]
   */
  function fill(assistant, copyOf = null) {
    editing = assistant;
    const source = assistant ?? copyOf;
    const readOnly = assistant !== null && isSystem(assistant);
    heading.textContent = assistant ? `${readOnly ? "" : "Edit "}${labelOf(assistant)}, version ${assistant.version}` : "New assistant";
    help.textContent = readOnly
      ? "The default assistant uses the server's own settings and cannot be changed. Duplicate it to make one of your own."
      : assistant
        ? "Saving makes a new version; new replies use it. Empty fields use the server's defaults."
        : "New chats can use it once it is saved. Empty fields use the server's defaults.";
    name.value = source ? (assistant ? source.name : `Copy of ${source.name}`) : "";
    prompt.value = source ? settingOf(source, "system_prompt") : "";
    model.value = source ? settingOf(source, "model") : "";
    temperature.value = source ? settingOf(source, "temperature") : "";
    for (const field of [name, prompt, model, temperature]) field.readOnly = readOnly;
    save.hidden = readOnly;
    save.textContent = assistant ? "Save new version" : "Create";
    duplicate.hidden = assistant === null;
    error.hidden = true;
  }

  /** The edited settings as `configurable` keys; an empty field names none (the server's default). */
  function editedSettings() {
    /** @type {Record<string, unknown>} */
    const settings = {};
    if (prompt.value.trim() !== "") settings.system_prompt = prompt.value;
    if (model.value.trim() !== "") settings.model = model.value.trim();
    if (temperature.value.trim() !== "") settings.temperature = Number(temperature.value);
    return settings;
  }

  async function submit() {
    const settings = editedSettings();
    const current = editing;
    /** @type {AssistantInfo} */
    let saved;
    if (current) {
      // Other settings are kept; the edited ones move to config, so a context value cannot hide them.
      saved = await api("PATCH", `/assistants/${current.assistant_id}`, {
        name: name.value.trim(),
        config: { ...current.config, configurable: { ...withoutEdited(current.config.configurable), ...settings } },
        context: withoutEdited(current.context),
      });
    } else {
      saved = await api("POST", "/assistants", { graph_id: GRAPH_ID, name: name.value.trim(), config: { configurable: settings } });
    }
    dialog.close();
    await refresh();
    show(saved.assistant_id);
    onChoose(saved.assistant_id);
  }

  picker.addEventListener("change", () => onChoose(picker.value));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (editing && isSystem(editing)) return;
    error.hidden = true;
    save.disabled = true;
    submit()
      .catch(showError)
      .finally(() => (save.disabled = false));
  });
  duplicate.addEventListener("click", () => {
    const original = editing;
    fill(null, original);
    name.focus();
    name.select();
  });
  byId("assistant-new").addEventListener("click", () => {
    fill(null);
    name.focus();
  });
  byId("assistant-close").addEventListener("click", () => dialog.close());

  return {
    refresh,
    show,
    /** The assistant picked now ("" until the list is read). */
    selected: () => picker.value,
    /** Opens the editor on the assistant picked now. */
    open() {
      fill(assistants.find((assistant) => assistant.assistant_id === picker.value) ?? null);
      dialog.showModal();
      (save.hidden ? duplicate : name).focus();
    },
  };
}
