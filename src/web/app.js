// @ts-check
/**
 * The web chat: a list of chats and one conversation, over our own LangGraph-compatible API.
 * Plain DOM code, with its few libraries (Markdown, see markdown.js) served by our own server, so
 * the page works offline and needs no build step.
 */
import { onAddressChange, showInAddress, threadInAddress } from "./address.js";
import { ApiError, call, openStream, storeKey, storedKey } from "./api.js";
import { createAssistantsPanel } from "./assistants.js";
import { shorten, textOf, titleOf } from "./branches.js";
import { citationsFor } from "./citations.js";
import { collectionLabels, createDocumentsPanel } from "./documents.js";
import { describeError } from "./errors.js";
import { TRASH_ICON, icon } from "./icons.js";
import { createChatHistory } from "./history.js";
import { createHeaderMenu, fitPlaceholder, mirrorTitle } from "./layout.js";
import { copyButton, renderMarkdown, streamMarkdown } from "./markdown.js";
import { createMemoryPanel } from "./memory.js";
import { createMessageList } from "./message-list.js";
import { hasReply, lastReply, regenerateIcon, stoppedLabel } from "./replies.js";
import { createThreadSearch } from "./thread-search.js";

/** The graph's own assistant (its id works wherever an assistant id is expected), until the list is read. */
const ASSISTANT = "agent";

/**
 * @typedef {import("./branches.js").Message & { tool_calls?: Array<{ name: string }>, response_metadata?: Record<string, unknown> }} Message
 * @typedef {{ thread_id: string, metadata?: Record<string, unknown> | null, updated_at: string, status?: string, values?: { messages?: Message[] } | null }} Thread
 * @typedef {{ threadId: string, messages: Message[], checkpointId: string | null, headId: string | null, history: import("./history.js").ChatHistory, versions: Map<number, import("./branches.js").Versions> }} Conversation
 *   `checkpointId`: the checkpoint on screen (`headId`, the newest, unless another branch is shown);
 *   `versions`: the other versions of messages on screen, by position, read after the messages
 * @typedef {{ threadId: string, runId: string | null, controller: AbortController, stopped: boolean, detached: boolean, streamed?: boolean }} Running
 *   `stopped`: the user pressed Stop; `detached`: the user went to another chat (the run goes on
 *   on the server, and is joined again when its chat is opened); `streamed`: a word of the reply came
 */

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
const element = (id) => /** @type {T} */ (document.getElementById(id));

const view = {
  layout: element("layout"),
  threadList: /** @type {HTMLUListElement} */ (element("thread-list")),
  threadEmpty: element("thread-empty"),
  search: /** @type {HTMLInputElement} */ (element("thread-search")),
  title: element("thread-title"),
  status: element("status"),
  messages: element("messages"),
  welcome: element("welcome"),
  alert: element("alert"),
  alertText: element("alert-text"),
  composer: /** @type {HTMLFormElement} */ (element("composer")),
  prompt: /** @type {HTMLTextAreaElement} */ (element("prompt")),
  send: /** @type {HTMLButtonElement} */ (element("send")),
  stop: /** @type {HTMLButtonElement} */ (element("stop")),
  keyDialog: /** @type {HTMLDialogElement} */ (element("key-dialog")),
  keyInput: /** @type {HTMLInputElement} */ (element("key-input")),
  keyError: element("key-error"),
  scrim: element("scrim"),
  collection: /** @type {HTMLSelectElement} */ (element("collection")),
};

const state = {
  /** @type {Thread[]} newest first */
  threads: [],
  /** @type {Conversation | null} null: a new chat, not created until its first message */
  conversation: null,
  /** @type {Running | null} the run this page is following, on the chat on screen */
  running: null,
  /** @type {string | null} the chat whose title is being edited: list refreshes leave it alone */
  renaming: null,
  /** The collection a new chat will be bound to, and the assistant it will talk through ("" for none, the graph's own). */
  pending: { collection_id: "", assistant_id: "" },
  /** @type {import("./documents.js").CollectionInfo[]} */
  collections: [],
};

// ---------------------------------------------------------------------------------------------
// API key: asked for when the server answers 401, then kept in localStorage.

/** @type {Promise<void> | null} */
let asking = null;

/** Shows the key dialog until a key is entered; concurrent callers share one dialog. */
function askForKey(refused = false) {
  asking ??= new Promise((resolve) => {
    view.keyError.hidden = !refused;
    view.keyInput.value = "";
    view.keyDialog.showModal();
    view.keyDialog.addEventListener(
      "close",
      () => {
        storeKey(view.keyInput.value.trim() || null);
        asking = null;
        resolve();
      },
      { once: true },
    );
  });
  return asking;
}

/**
 * Runs `action`, asking for an API key and trying again as long as the server answers 401.
 * @template T
 * @param {() => Promise<T>} action
 * @returns {Promise<T>}
 */
async function authorized(action) {
  for (;;) {
    try {
      return await action();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      await askForKey(storedKey() !== null);
    }
  }
}

/** @type {typeof call} */
const api = (method, path, body) => authorized(() => call(method, path, body));

// ---------------------------------------------------------------------------------------------
// Alerts and status

/** @param {unknown} error */
function showError(error) {
  view.alertText.textContent = describeError(error);
  view.alert.hidden = false;
}

function clearError() {
  view.alert.hidden = true;
  view.alertText.textContent = "";
}

/** @param {string} text */
const setStatus = (text) => {
  view.status.textContent = text;
};

// ---------------------------------------------------------------------------------------------
// The list of chats

async function loadThreads() {
  /** @type {Thread[]} */
  const threads = await api("POST", "/threads/search", {
    limit: 1000,
    sort_by: "updated_at",
    sort_order: "desc",
    select: ["thread_id", "metadata", "updated_at", "status"],
  });
  // Chats started elsewhere may have no title: one more call reads their first messages.
  const untitled = threads.filter((thread) => typeof thread.metadata?.title !== "string" && typeof thread.metadata?.preview !== "string").map((thread) => thread.thread_id);
  if (untitled.length > 0) {
    /** @type {Thread[]} */
    const withValues = await api("POST", "/threads/search", { ids: untitled, limit: untitled.length, select: ["thread_id", "values"] });
    const values = new Map(withValues.map((thread) => [thread.thread_id, thread.values]));
    for (const thread of threads) if (values.has(thread.thread_id)) thread.values = values.get(thread.thread_id);
  }
  state.threads = threads;
  renderThreads();
  // A title set since the chat was opened (the server names a chat after its first reply) shows at once.
  const open = threads.find((thread) => thread.thread_id === state.conversation?.threadId);
  if (open && state.renaming !== open.thread_id) view.title.textContent = titleOf(open);
}

function renderThreads() {
  // Redrawing would remove the field being typed in (and its blur would save half a title).
  if (state.renaming !== null) return;
  const query = view.search.value.trim().toLowerCase();
  // The server's matches (by what was said, too) once they are in; the titles that match until then.
  const found = search.results();
  const shown = found
    ? found.map((match) => state.threads.find((thread) => thread.thread_id === match.thread_id) ?? match)
    : state.threads.filter((thread) => query === "" || titleOf(thread).toLowerCase().includes(query));
  view.threadList.replaceChildren(...shown.map(threadItem));
  view.threadEmpty.hidden = shown.length > 0;
  view.threadEmpty.textContent = state.threads.length === 0 ? "No chats yet." : "No chat matches.";
}

/** @param {Thread} thread */
function threadItem(thread) {
  const item = document.createElement("li");
  item.className = "thread";
  item.dataset.threadId = thread.thread_id;
  if (state.conversation?.threadId === thread.thread_id) item.setAttribute("aria-current", "true");

  const open = document.createElement("button");
  open.type = "button";
  open.className = "thread-open";
  open.title = titleOf(thread);
  const name = document.createElement("span");
  name.className = "thread-title";
  name.textContent = titleOf(thread);
  const when = document.createElement("time");
  when.className = "thread-time";
  when.dateTime = thread.updated_at;
  when.textContent = relativeTime(thread.updated_at);
  open.append(name, when);
  open.addEventListener("click", () => void guarded(() => openThread(thread.thread_id)));

  const rename = iconButton("✎", `Rename “${titleOf(thread)}”`, "thread-rename", () => startRename(item, thread));
  const remove = iconButton(icon(TRASH_ICON), `Delete “${titleOf(thread)}”`, "thread-delete", () => void guarded(() => deleteThread(thread)));
  item.append(open, rename, remove);
  return item;
}


/**
 * @param {string | Element} label text, or an icon
 * @param {string} description
 * @param {string} className
 * @param {() => void} onClick
 */
function iconButton(label, description, className, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `button icon ${className}`;
  button.append(label);
  button.setAttribute("aria-label", description);
  button.title = description;
  button.addEventListener("click", onClick);
  return button;
}

/**
 * Replaces the chat's title by a text field: Enter saves it (as metadata `title`), Escape cancels.
 * @param {HTMLLIElement} item
 * @param {Thread} thread
 */
function startRename(item, thread) {
  const input = document.createElement("input");
  input.className = "thread-rename-input";
  input.value = titleOf(thread);
  input.setAttribute("aria-label", "New name");
  input.maxLength = 200;
  item.replaceChildren(input);
  state.renaming = thread.thread_id;
  input.focus();
  input.select();
  let done = false;
  const finish = async (/** @type {boolean} */ save) => {
    if (done) return;
    done = true;
    const title = input.value.trim();
    if (save && title !== "" && title !== titleOf(thread)) {
      await guarded(async () => {
        await api("PATCH", `/threads/${thread.thread_id}`, { metadata: { title } });
        // The list may have been read again meanwhile: change the entry it holds now.
        const current = state.threads.find((candidate) => candidate.thread_id === thread.thread_id) ?? thread;
        current.metadata = { ...current.metadata, title };
        if (state.conversation?.threadId === thread.thread_id) view.title.textContent = title;
      });
    }
    state.renaming = null;
    renderThreads();
    // Keyboard users stay on the chat they renamed.
    /** @type {HTMLElement | null} */ (view.threadList.querySelector(`[data-thread-id="${thread.thread_id}"] .thread-rename`))?.focus();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") void finish(true);
    if (event.key === "Escape") void finish(false);
  });
  input.addEventListener("blur", () => void finish(true));
}

/** @param {Thread} thread */
async function deleteThread(thread) {
  if (!confirm(`Delete “${titleOf(thread)}”? Its messages cannot be brought back.`)) return;
  if (state.running?.threadId === thread.thread_id) await stopRun();
  await api("DELETE", `/threads/${thread.thread_id}`);
  state.threads = state.threads.filter((other) => other.thread_id !== thread.thread_id);
  // In place of the deleted chat's history entry: Back does not lead to a chat that is gone.
  if (state.conversation?.threadId === thread.thread_id) newChat({ replace: true });
  renderThreads();
}

/** @param {string} iso */
function relativeTime(iso) {
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  if (seconds < 60) return "now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h`;
  return new Date(iso).toLocaleDateString();
}

// ---------------------------------------------------------------------------------------------
// One conversation

/**
 * Stops following the run on screen without cancelling it, before another chat is shown: the
 * server finishes it, and opening its chat again joins it.
 */
function detachRun() {
  const running = state.running;
  if (!running) return;
  running.detached = true;
  running.controller.abort();
  state.running = null;
  setRunning(false);
}

/**
 * A choice of the chat on screen kept in its metadata (its collection, the assistant its runs
 * stamped on it), or the one a new chat will get; "" for none.
 * @param {keyof typeof state.pending} key
 */
function chatSetting(key) {
  const thread = state.threads.find((candidate) => candidate.thread_id === state.conversation?.threadId);
  const value = state.conversation ? thread?.metadata?.[key] : state.pending[key];
  return typeof value === "string" ? value : "";
}

/**
 * Sets a choice of the chat on screen (in its metadata; "" removes it), or of the next new chat.
 * @param {keyof typeof state.pending} key
 * @param {string} value
 */
async function setChatSetting(key, value) {
  const conversation = state.conversation;
  if (!conversation) {
    state.pending[key] = value;
    return;
  }
  await api("PATCH", `/threads/${conversation.threadId}`, { metadata: { [key]: value === "" ? null : value } });
  const thread = state.threads.find((candidate) => candidate.thread_id === conversation.threadId);
  if (thread) thread.metadata = { ...thread.metadata, [key]: value === "" ? undefined : value };
}

/** Shows in the pickers the collection and the assistant of the chat on screen (or those a new chat will get). */
function showChoices() {
  assistantsPanel.show(chatSetting("assistant_id"));
  const value = chatSetting("collection_id");
  const labels = collectionLabels(state.collections);
  const options = [{ collection_id: "", name: "No documents" }, ...state.collections.map((collection) => ({ ...collection, name: labels.get(collection.collection_id) ?? collection.name }))];
  // A chat bound to a collection this page cannot list (deleted) still shows what it is bound to.
  if (value !== "" && !options.some((option) => option.collection_id === value)) options.push({ collection_id: value, name: "(deleted collection)" });
  view.collection.replaceChildren(
    ...options.map((option) => {
      const element = document.createElement("option");
      element.value = option.collection_id;
      element.textContent = option.name;
      return element;
    }),
  );
  view.collection.value = value;
}

// Runs stamp their assistant on their chat too; saying it at once keeps the choice if none runs.
const assistantsPanel = createAssistantsPanel({ api, onChoose: (assistantId) => void guarded(() => setChatSetting("assistant_id", assistantId)) });

const documentsPanel = createDocumentsPanel({
  api,
  onChange: (collections) => {
    state.collections = collections;
    showChoices();
  },
});

const memoryPanel = createMemoryPanel({ api });

const search = createThreadSearch({ api, input: view.search, onChange: renderThreads, onError: showError });

const messageList = createMessageList({ list: view.messages, scrollButton: element("scroll-down"), stop: view.stop });

/**
 * Shows an empty chat, created on its first message.
 * @param {{ replace?: boolean }} [options] `replace`: the chat in the address is gone or cannot be opened, so Back need not return to it
 */
function newChat({ replace = false } = {}) {
  detachRun();
  state.conversation = null;
  showInAddress(null, { replace });
  view.title.textContent = "New chat";
  showChoices();
  renderMessages();
  messageList.toEnd();
  renderThreads();
  closeSidebar();
  view.prompt.focus();
}

/** @type {string | null} the chat asked for last, so a slow answer for an earlier click is dropped */
let opening = null;

/**
 * Shows a chat as it is now (its newest checkpoint), with its branches.
 * @param {string} threadId
 */
async function openThread(threadId) {
  clearError();
  if (state.running?.threadId === threadId) return;
  detachRun();
  opening = threadId;
  const conversation = await readConversation(threadId);
  // A later click won: show that chat, not this one.
  if (opening !== threadId) return;
  state.conversation = conversation;
  showInAddress(threadId);
  const thread = state.threads.find((candidate) => candidate.thread_id === threadId);
  view.title.textContent = thread ? titleOf(thread) : titleOf({ values: { messages: conversation.messages } });
  showChoices();
  renderMessages();
  messageList.toEnd();
  renderThreads();
  closeSidebar();
  void showVersions(conversation);
  const joined = await joinRunningRun(threadId);
  if (!joined) view.prompt.focus();
}

/**
 * Reads a chat as it is now: its current state only. Its branches (`versions`) are read after it
 * is on screen (`showVersions`); read again after a turn, it keeps its tree and the versions of the
 * messages that did not change meanwhile.
 * @param {string} threadId
 * @returns {Promise<Conversation>}
 */
async function readConversation(threadId) {
  const current = await api("GET", `/threads/${threadId}/state`);
  const headId = current.checkpoint?.checkpoint_id ?? null;
  /** @type {Message[]} */
  const messages = current.values?.messages ?? [];
  const previous = state.conversation?.threadId === threadId ? state.conversation : null;
  const history = previous?.history ?? createChatHistory(api, threadId);
  if (headId) history.remember(headId, current.values ?? {});
  return { threadId, messages, checkpointId: headId, headId, history, versions: previous ? unchangedVersions(previous, messages) : new Map() };
}

/**
 * Reads the versions of the messages of `conversation` (the chat's checkpoint tree, and the few
 * branches that fork from what is on screen), then shows them, unless the page moved on.
 * @param {Conversation} conversation
 */
async function showVersions(conversation) {
  const shownId = conversation.checkpointId;
  if (!shownId) return;
  try {
    const versions = await conversation.history.versions(shownId, conversation.messages);
    if (state.conversation !== conversation || conversation.checkpointId !== shownId) return;
    conversation.versions = versions;
    // A reply streaming in is not in the messages yet: the next drawing after it shows them.
    if (!state.running) redrawInPlace();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) showError(error);
  }
}

/**
 * The versions of `previous` that still hold for `messages`: those before the first message that changed.
 * @param {Conversation} previous
 * @param {Message[]} messages
 */
function unchangedVersions(previous, messages) {
  let same = 0;
  while (same < messages.length && same < previous.messages.length && messages[same]?.id === previous.messages[same]?.id) same += 1;
  return new Map([...previous.versions].filter(([position]) => position < same));
}

/** Draws the messages again where the reader is: at the end if they were there, else at the same place. */
function redrawInPlace() {
  const box = view.messages;
  const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const top = box.scrollTop;
  renderMessages();
  if (!atEnd) box.scrollTop = top;
}

/** Draws the conversation's messages, or the welcome text for a new chat. */
function renderMessages() {
  const conversation = state.conversation;
  const nodes = [];
  for (const [position, message] of (conversation?.messages ?? []).entries()) {
    const node = messageNode(message, position);
    if (node) nodes.push(node);
  }
  view.welcome.hidden = nodes.length > 0;
  view.messages.replaceChildren(view.welcome, ...nodes);
  scrollToEnd();
}

/**
 * @param {Message} message
 * @param {number} position its index in the thread's messages
 * @returns {HTMLElement | null}
 */
function messageNode(message, position) {
  const text = textOf(message.content);
  if (message.type === "human") {
    const node = bubble("user", text);
    node.dataset.position = String(position);
    const actions = document.createElement("div");
    actions.className = "message-actions";
    const versions = state.conversation?.versions.get(position);
    if (versions && versions.count > 1) actions.append(versionSwitcher(versions, position));
    actions.append(iconButton("✎", "Edit and resend", "message-edit", () => startEdit(node, position, text)));
    node.append(actions);
    return node;
  }
  if (message.type === "ai") {
    const calls = message.tool_calls ?? [];
    if (text === "" && calls.length === 0) return null;
    // A step that only calls tools shows as a note, not as an empty reply.
    const node = text === "" ? toolStep() : bubble("assistant", text);
    for (const toolCall of calls) {
      const note = document.createElement("div");
      note.className = "tool-call";
      const query = /** @type {{ args?: { query?: unknown } }} */ (toolCall).args?.query;
      note.textContent = toolCall.name === "search_documents" && typeof query === "string" ? `Searched the documents for “${query}”` : `Called ${toolCall.name}`;
      node.append(note);
    }
    const cited = citationsFor(state.conversation?.messages ?? [], position, text);
    if (cited.length > 0) node.append(citationList(cited));
    if (text !== "") node.append(replyActions(message, position, text));
    return node;
  }
  return null;
}

function toolStep() {
  const node = document.createElement("div");
  node.className = "tool-step";
  return node;
}

/**
 * "Sources": each passage the answer cites, its number, document and part; opening one shows
 * the passage itself.
 * @param {import("./citations.js").Citation[]} cited
 */
function citationList(cited) {
  const list = document.createElement("ul");
  list.className = "citations";
  list.setAttribute("aria-label", "Sources");
  for (const citation of cited) {
    const item = document.createElement("li");
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = `[${citation.n}] ${citation.source}, part ${citation.position + 1}`;
    const passage = document.createElement("blockquote");
    passage.className = "markdown";
    passage.append(renderMarkdown(citation.text));
    details.append(summary, passage);
    item.append(details);
    list.append(item);
  }
  return list;
}

/**
 * A message: the user's as plain text, as typed; the assistant's as Markdown.
 * @param {"user" | "assistant"} role
 * @param {string} text
 */
function bubble(role, text) {
  const node = document.createElement("article");
  node.className = `message ${role}`;
  node.setAttribute("aria-label", role === "user" ? "You" : "Assistant");
  const body = document.createElement("div");
  body.className = "message-text";
  if (role === "assistant") {
    body.classList.add("markdown");
    body.append(renderMarkdown(text));
  } else body.textContent = text;
  node.append(body);
  return node;
}

/**
 * Under a reply: "stopped" when Stop cut it short, its versions, Copy, and Regenerate on the last one.
 * @param {Message} message
 * @param {number} position
 * @param {string} text
 */
function replyActions(message, position, text) {
  const actions = document.createElement("div");
  actions.className = "message-actions reply-actions";
  const stopped = stoppedLabel(message);
  if (stopped) actions.append(stopped);
  const versions = state.conversation?.versions.get(position);
  if (versions && versions.count > 1) actions.append(versionSwitcher(versions, position));
  // The reply as the model wrote it: its Markdown.
  actions.append(copyButton(text, "Copy reply"));
  if (position === lastReply(state.conversation?.messages ?? [])) {
    const again = iconButton(regenerateIcon(), "Regenerate this reply", "message-regenerate", () => void guarded(() => regenerate(position)));
    again.disabled = state.running !== null;
    actions.append(again);
  }
  return actions;
}

/**
 * "‹ 2/3 ›": shows the other versions of an edited message (or of a regenerated reply).
 * @param {import("./branches.js").Versions} versions
 * @param {number} position where the message is
 */
function versionSwitcher(versions, position) {
  const box = document.createElement("span");
  box.className = "versions";
  const label = document.createElement("span");
  label.className = "versions-label";
  label.textContent = `${versions.index + 1}/${versions.count}`;
  const go = (/** @type {number} */ step) => () => void guarded(() => showVersion(versions, position, versions.index + step));
  const previous = iconButton("‹", "Previous version", "versions-previous", go(-1));
  const next = iconButton("›", "Next version", "versions-next", go(1));
  previous.disabled = versions.index === 0 || state.running !== null;
  next.disabled = versions.index === versions.count - 1 || state.running !== null;
  box.append(previous, label, next);
  return box;
}

/**
 * Shows another version of the message at `position`: the conversation as the newest checkpoint
 * of that branch holds it. Its switcher stays at once; the other branches' are read again.
 * @param {import("./branches.js").Versions} versions
 * @param {number} position
 * @param {number} index the version to show
 */
async function showVersion(versions, position, index) {
  const conversation = state.conversation;
  const checkpointId = versions.targets[index];
  if (!conversation || !checkpointId || state.running) return;
  const values = await conversation.history.valuesAt(checkpointId);
  if (state.conversation !== conversation) return;
  if (!values) throw new Error("This version is no longer in the chat's history");
  conversation.messages = values.messages ?? [];
  conversation.checkpointId = checkpointId;
  // What comes before the message is the same in every version, and so are its versions.
  conversation.versions = new Map([...conversation.versions].filter(([other]) => other < position));
  conversation.versions.set(position, { ...versions, index });
  redrawInPlace();
  /** @type {HTMLElement | null} */ (view.messages.querySelector(`[data-position="${position}"] .versions-${index > versions.index ? "next" : "previous"}`))?.focus();
  await showVersions(conversation);
}

/**
 * Turns a user message into an editor; sending it forks the chat from the point before it.
 * @param {HTMLElement} node
 * @param {number} position
 * @param {string} text
 */
function startEdit(node, position, text) {
  if (state.running) return;
  const editor = document.createElement("form");
  editor.className = "message-editor";
  const input = document.createElement("textarea");
  input.value = text;
  input.setAttribute("aria-label", "Edit message");
  const save = document.createElement("button");
  save.type = "submit";
  save.className = "button primary";
  save.textContent = "Send";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "button";
  cancel.textContent = "Cancel";
  cancel.addEventListener("click", () => renderMessages());
  editor.append(input, save, cancel);
  editor.addEventListener("submit", (event) => {
    event.preventDefault();
    const edited = input.value.trim();
    if (edited !== "") void guarded(() => resend(position, edited));
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      editor.requestSubmit();
    }
    if (event.key === "Escape") renderMessages();
  });
  node.replaceChildren(editor);
  input.focus();
}

/**
 * Sends `text` in place of the user message at `position`: a new branch from the checkpoint
 * before it. The old branch stays in the history and can be shown again.
 * @param {number} position
 * @param {string} text
 */
async function resend(position, text) {
  const conversation = state.conversation;
  const checkpointId = conversation && (await forkPoint(conversation, position));
  if (!conversation || !checkpointId || state.conversation !== conversation) return;
  conversation.messages = conversation.messages.slice(0, position);
  await runTurn(text, checkpointId);
}

/** Whether an edit or a regeneration is finding where to fork (reading a checkpoint or two): one at a time. */
let forking = false;

/**
 * The checkpoint a new version of the message at `position` runs from (see `ChatHistory.forkPoint`);
 * null while another is being found, or a run goes on.
 * @param {Conversation} conversation
 * @param {number} position
 * @param {number} [replaced]
 * @returns {Promise<string | null>}
 */
async function forkPoint(conversation, position, replaced) {
  if (!conversation.checkpointId || state.running || forking) return null;
  forking = true;
  setStatus("Preparing…");
  try {
    return await conversation.history.forkPoint(conversation.checkpointId, conversation.messages, position, replaced);
  } finally {
    forking = false;
    setStatus("");
  }
}

/**
 * Asks for the reply at `position` again: its user message is sent again, with its id, from the
 * checkpoint before it, so the new reply is a version of the old one (‹ 1/2 ›), both kept.
 * @param {number} position
 */
async function regenerate(position) {
  const conversation = state.conversation;
  const asked = conversation?.messages.findLastIndex((message, index) => index < position && message.type === "human") ?? -1;
  const question = conversation?.messages[asked];
  const checkpointId = conversation && question && (await forkPoint(conversation, asked, position));
  if (!conversation || !question || !checkpointId || state.conversation !== conversation) return;
  conversation.messages = conversation.messages.slice(0, asked);
  await runTurn(textOf(question.content), checkpointId, question);
}

/**
 * Joins the run a chat is busy with (after a reload mid-reply), so its reply keeps streaming in.
 * @param {string} threadId
 * @returns {Promise<boolean>} whether there was one
 */
async function joinRunningRun(threadId) {
  /** @type {Array<{ run_id: string }>} */
  const active = [
    ...(await api("GET", `/threads/${threadId}/runs?status=running&limit=1`)),
    ...(await api("GET", `/threads/${threadId}/runs?status=pending&limit=1`)),
  ];
  const run = active[0];
  if (!run) return false;
  // Until the run ends its message is not in the thread's state: show it from the run's input.
  const details = await api("GET", `/threads/${threadId}/runs/${run.run_id}`);
  const conversation = state.conversation;
  /** @type {Message[]} */
  const input = (details.kwargs?.input?.messages ?? []).map((/** @type {any} */ message) => ({ type: "human", content: message.content, id: message.id }));
  if (conversation?.threadId === threadId && input.length > 0) {
    conversation.messages = [...conversation.messages, ...input];
    renderMessages();
  }
  await follow(threadId, null, (signal) => authorized(() => openStream(`/threads/${threadId}/runs/${run.run_id}/stream`, undefined, signal)), beginRunning(threadId, run.run_id));
  return true;
}

/**
 * Sends a user message: creates the chat on its first message, then streams the reply.
 * @param {string} text
 * @param {string | null} [checkpointId] continue from this checkpoint (a fork or another branch)
 * @param {Message} [again] a message sent again as it was (its content and id), to regenerate its reply
 */
async function runTurn(text, checkpointId = state.conversation?.checkpointId !== state.conversation?.headId ? state.conversation?.checkpointId : null, again) {
  clearError();
  // Running from now on, so that Stop works even before the chat or the run exists.
  const running = beginRunning(state.conversation?.threadId ?? "", null);
  const created = !state.conversation;
  if (!state.conversation) {
    try {
      const assistantId = assistantsPanel.selected();
      // No title: the server names the chat after its first reply (a title here would read as the
      // user's own). Until then, and where titles are off, the list shows the first message,
      // kept as `preview` so the list need not read the chat's messages.
      const metadata = { preview: shorten(text), ...(state.pending.collection_id ? { collection_id: state.pending.collection_id } : {}), ...(assistantId ? { assistant_id: assistantId } : {}) };
      const thread = await api("POST", "/threads", { metadata });
      state.conversation = { threadId: thread.thread_id, messages: [], checkpointId: null, headId: null, history: createChatHistory(api, thread.thread_id), versions: new Map() };
      state.threads.unshift(thread);
      // The new chat on screen becomes this one: Back goes to the chat before, not to an empty one.
      showInAddress(thread.thread_id, { replace: true });
      view.title.textContent = titleOf(thread);
      renderThreads();
    } catch (error) {
      endRunning(running);
      throw error;
    }
  }
  const { threadId } = state.conversation;
  running.threadId = threadId;
  if (running.stopped) {
    // Stopped before anything was sent: the message goes back into the box at once, as
    // "Stopped" shows, not once the empty chat is deleted (a slow server left the box empty meanwhile).
    endRunning(running);
    if (view.prompt.value === "") view.prompt.value = text;
    setStatus("Stopped");
    if (created) await dropEmptyChat(threadId);
    return;
  }
  /** @type {Message} */
  const message = again ? { type: "human", content: again.content, ...(again.id ? { id: again.id } : {}) } : { type: "human", content: text };
  const body = {
    assistant_id: assistantsPanel.selected() || ASSISTANT,
    input: { messages: [message] },
    stream_mode: ["messages-tuple", "values"],
    ...(checkpointId ? { checkpoint_id: checkpointId } : {}),
  };
  state.conversation.messages = [...state.conversation.messages, message];
  renderMessages();
  const failed = await follow(threadId, text, (signal) => authorized(() => openStream(`/threads/${threadId}/runs/stream`, body, signal)), running);
  // A chat whose first message got no reply (no model, a provider error, Stop before the first
  // word) is not kept as an empty chat in the list.
  const conversation = state.conversation;
  const empty = conversation?.threadId === threadId && !hasReply(conversation.messages) && (conversation.messages.length === 0 || !running.streamed);
  const drop = created && empty && !running.detached && !state.running;
  // Nothing lost: a message whose run failed goes back into the box, ready to send again; at once,
  // with the error, not after the empty chat is deleted.
  if ((failed || drop) && view.prompt.value === "" && (drop || state.conversation?.threadId === threadId)) view.prompt.value = text;
  if (drop) await dropEmptyChat(threadId);
}

/**
 * Deletes a chat this page just created whose first message got no reply, and shows a new chat
 * in its place (the error, if any, stays on screen).
 * @param {string} threadId
 * @returns {Promise<boolean>} whether it was deleted
 */
async function dropEmptyChat(threadId) {
  try {
    await api("DELETE", `/threads/${threadId}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) return false;
  }
  state.threads = state.threads.filter((thread) => thread.thread_id !== threadId);
  if (state.conversation?.threadId === threadId) newChat();
  else renderThreads();
  return true;
}

/**
 * Streams a run's events into the page: tokens into the reply as they arrive, errors into the
 * alert. When it ends, the chat is read again, so the page shows what the thread really holds.
 * @param {string} threadId
 * @param {string | null} text the user message sent, if this page sent it
 * @param {(signal: AbortSignal) => Promise<AsyncGenerator<import("./api.js").StreamEvent>>} open
 * @param {Running} [running] the run as `runTurn` began it, or a run joined by its id
 * @returns {Promise<boolean>} whether the run failed
 */
async function follow(threadId, text, open, running = beginRunning(threadId, null)) {
  const { controller } = running;
  /** Only the run of the chat on screen may touch the page. */
  const onScreen = () => !running.detached && state.conversation?.threadId === threadId;
  let failed = false;
  /** The connection broke while the run went on on the server: join it again, never resend. */
  let broken = false;
  /** @type {HTMLElement | null} */
  let reply = null;
  /** @type {ReturnType<typeof streamMarkdown> | null} renders the reply's Markdown as it grows */
  let replyView = null;
  /** @type {Map<string, string>} streamed text per message id */
  const streamed = new Map();
  try {
    const events = await open(controller.signal);
    for await (const { event, data } of events) {
      if (!onScreen()) break;
      if (event === "metadata") {
        running.runId = data.run_id;
        // Stop was pressed before the run had an id: cancel it now.
        if (running.stopped) {
          await cancelRun(running);
          break;
        }
      } else if (event === "messages") {
        const [chunk, metadata] = data;
        // Only the model's reply tokens ("ai" here, "AIMessageChunk" from the official server).
        const type = String(chunk?.type ?? "");
        if (metadata?.langgraph_node !== "model" || !(type === "ai" || type.startsWith("AIMessageChunk"))) continue;
        const piece = textOf(chunk.content);
        if (piece === "") continue;
        const sofar = (streamed.get(chunk.id) ?? "") + piece;
        streamed.set(chunk.id, sofar);
        reply ??= appendReply();
        running.streamed = true;
        replyView ??= streamMarkdown(/** @type {HTMLElement} */ (reply.querySelector(".message-text")), scrollToEnd);
        replyView.update(sofar);
      } else if (event === "error") {
        // Stopped (here with Stop, or elsewhere) or its chat deleted: not a failure to send again.
        if (data?.error === "RunCancelled" || data?.error === "ThreadDeleted") {
          if (!running.stopped) showError(`The reply was stopped: ${data.message}`);
        } else {
          failed = true;
          showError(`The reply failed: ${data?.message ?? "unknown error"}`);
        }
      }
    }
  } catch (error) {
    if (running.stopped || running.detached) {
      // Ended on purpose.
    } else if (error instanceof ApiError && error.status === 409) {
      // Another client is answering in this chat: show that reply instead.
      showError("This chat is busy with another reply; it is shown below. Send your message when it has finished.");
      broken = true;
      failed = true;
    } else if (error instanceof ApiError && error.status === 0 && running.runId !== null) {
      broken = true;
    } else {
      failed = true;
      showError(error);
    }
  } finally {
    endRunning(running);
  }
  if (running.detached) return false;
  setStatus(running.stopped ? "Stopped" : "");
  if (onScreen()) {
    try {
      state.conversation = await readConversation(threadId);
      renderMessages();
      void showVersions(state.conversation);
      if (broken && (await joinRunningRun(threadId))) return failed;
    } catch (error) {
      // The thread may be gone (deleted meanwhile); then there is nothing to show.
      if (!(error instanceof ApiError && error.status === 404)) showError(error);
    }
  }
  await loadThreads().catch(showError);
  // Back to the message box, unless the user is busy elsewhere on the page.
  if (text !== null && onScreen() && (document.activeElement === document.body || document.activeElement === view.prompt)) view.prompt.focus();
  return failed && !broken;
}

/**
 * Marks the page as following a run: Stop shows, Send hides.
 * @param {string} threadId
 * @param {string | null} runId
 * @returns {Running}
 */
function beginRunning(threadId, runId) {
  /** @type {Running} */
  const running = { threadId, runId, controller: new AbortController(), stopped: false, detached: false };
  state.running = running;
  setRunning(true);
  return running;
}

/** @param {Running} running */
function endRunning(running) {
  if (state.running !== running) return;
  state.running = null;
  setRunning(false);
}

/**
 * Cancels a run on the server (keeping the user's message, dropping the half reply) and stops
 * reading its stream.
 * @param {Running} running
 */
async function cancelRun(running) {
  try {
    if (running.runId) await api("POST", `/threads/${running.threadId}/runs/${running.runId}/cancel?action=interrupt&wait=1`);
  } finally {
    running.controller.abort();
  }
}

function appendReply() {
  const node = bubble("assistant", "");
  node.classList.add("streaming");
  view.messages.append(node);
  return node;
}

/**
 * Stops the running run; the user's message stays, the half-written reply does not. Before the
 * run has an id (its first event), the stop is remembered and done when the id arrives.
 */
async function stopRun() {
  const running = state.running;
  if (!running) return;
  running.stopped = true;
  setStatus("Stopping…");
  if (running.runId) await cancelRun(running);
}

/** @param {boolean} running */
function setRunning(running) {
  view.send.hidden = running;
  view.stop.hidden = !running;
  view.prompt.disabled = false;
  setStatus(running ? "Answering…" : "");
  // Copying stays possible while a reply streams.
  for (const button of view.messages.querySelectorAll("button")) if (!button.classList.contains("copy")) button.disabled = running;
}

/** Keeps the newest message in view, unless the user has scrolled up to read. */
function scrollToEnd() {
  messageList.follow();
}

// ---------------------------------------------------------------------------------------------
// Wiring

/**
 * Runs a user action, showing its failure in the page rather than only in the console.
 * @param {() => Promise<unknown>} action
 */
async function guarded(action) {
  try {
    await action();
  } catch (error) {
    showError(error);
  }
}

function closeSidebar() {
  view.layout.classList.remove("sidebar-open");
  view.scrim.hidden = true;
}

function openSidebar() {
  view.layout.classList.add("sidebar-open");
  view.scrim.hidden = false;
}

function autoGrow() {
  view.prompt.style.height = "auto";
  view.prompt.style.height = `${Math.min(view.prompt.scrollHeight, 240)}px`;
}

view.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = view.prompt.value.trim();
  if (text === "" || state.running) return;
  view.prompt.value = "";
  autoGrow();
  messageList.toEnd();
  void guarded(() => runTurn(text));
});
view.prompt.addEventListener("keydown", (event) => {
  // Enter sends, Shift+Enter is a new line; not while an input method is composing a character.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    view.composer.requestSubmit();
  }
});
view.prompt.addEventListener("input", autoGrow);
view.stop.addEventListener("click", () => void guarded(stopRun));
element("new-thread").addEventListener("click", () => {
  if (!state.running) newChat();
});
element("alert-close").addEventListener("click", clearError);
element("open-sidebar").addEventListener("click", openSidebar);
element("close-sidebar").addEventListener("click", closeSidebar);
view.scrim.addEventListener("click", closeSidebar);
view.keyDialog.addEventListener("cancel", (event) => event.preventDefault());
view.collection.addEventListener("change", () => void guarded(() => setChatSetting("collection_id", view.collection.value)));
element("edit-assistant").addEventListener("click", () => assistantsPanel.open());
element("manage-documents").addEventListener("click", () => void documentsPanel.open(chatSetting("collection_id") || null));
element("manage-memory").addEventListener("click", () => void memoryPanel.open());
createHeaderMenu({ button: element("chat-menu"), panel: element("chat-actions") });
fitPlaceholder(view.prompt);
mirrorTitle(view.title, document.title);
// Back, Forward or an edited address: show the chat it names.
onAddressChange((threadId) => {
  if (threadId === null) newChat();
  else void guarded(() => openAddressed(threadId));
});

/**
 * Opens the chat the address names; one that cannot be opened leaves a new chat on screen, and
 * an address that names no chat.
 * @param {string} threadId
 */
async function openAddressed(threadId) {
  try {
    await openThread(threadId);
  } catch (error) {
    newChat({ replace: true });
    throw error instanceof ApiError && error.status === 404 ? new Error("The chat in the address was not found: it may have been deleted.") : error;
  }
}

async function start() {
  await loadThreads();
  await documentsPanel.refresh();
  await assistantsPanel.refresh();
  const threadId = threadInAddress();
  if (threadId) await openAddressed(threadId);
  else newChat();
}

void guarded(start);
