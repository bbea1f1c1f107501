// @ts-check
/**
 * The documents dialog of the web chat: collections (create, delete), their documents (upload
 * text, Markdown and PDF files; delete), over the API's `/collections` endpoints.
 */

/**
 * @typedef {{ collection_id: string, name: string, document_count: number, chunk_count: number, created_at?: string }} CollectionInfo
 * @typedef {{ document_id: string, source: string, content_type: string, chunk_count: number, characters: number }} DocumentInfo
 * @typedef {(method: string, path: string, body?: unknown) => Promise<any>} Api
 */

/**
 * @param {string} name
 * @returns {"text/plain" | "text/markdown" | "application/pdf" | null} null: not a format we take
 */
export function contentTypeOfFile(name) {
  if (/\.pdf$/i.test(name)) return "application/pdf";
  if (/\.(md|markdown)$/i.test(name)) return "text/markdown";
  if (/\.(txt|text)$/i.test(name)) return "text/plain";
  return null;
}

/**
 * "1 document", "2 documents": a count and its noun, plural when it is not one.
 * @param {number} count
 * @param {string} noun singular
 * @param {string} [plural] when it is not the noun and an "s"
 */
export const countOf = (count, noun, plural = `${noun}s`) => `${count} ${count === 1 ? noun : plural}`;

/** @param {string | undefined} iso */
function dateOf(iso) {
  const date = new Date(iso ?? "");
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleDateString(undefined, { dateStyle: "medium" });
}

/**
 * What tells a collection apart from the others besides its name: its documents and its day.
 * @param {CollectionInfo} collection
 */
export function collectionDetails(collection) {
  const created = dateOf(collection.created_at);
  return [countOf(collection.document_count, "document"), ...(created ? [`created ${created}`] : [])].join(" · ");
}

/**
 * The picker's label for each collection: its name, and, for names that several collections
 * share, what tells them apart (their documents and day, else their order).
 * @param {CollectionInfo[]} collections
 * @returns {Map<string, string>} collection id → label
 */
export function collectionLabels(collections) {
  /** @type {Map<string, CollectionInfo[]>} */
  const byName = new Map();
  for (const collection of collections) byName.set(collection.name, [...(byName.get(collection.name) ?? []), collection]);
  /** @type {Map<string, string>} */
  const labels = new Map();
  for (const [name, namesakes] of byName) {
    const details = namesakes.map(collectionDetails);
    namesakes.forEach((collection, index) => {
      // Same documents, same day: only their order is left to tell them apart.
      const unique = details.filter((detail) => detail === details[index]).length === 1;
      labels.set(collection.collection_id, namesakes.length === 1 ? name : `${name} (${unique ? details[index] : `${details[index]}, #${index + 1}`})`);
    });
  }
  return labels;
}

/** @param {ArrayBuffer} buffer */
function base64Of(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  // In slices: one call with every byte as an argument overflows the stack on large files.
  for (let start = 0; start < bytes.length; start += 0x8000) binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  return btoa(binary);
}

/**
 * Wires the dialog. `onChange` is told whenever the list of collections changed, so the chat's
 * collection picker can follow.
 * @param {{ api: Api, onChange: (collections: CollectionInfo[]) => void }} options
 */
export function createDocumentsPanel({ api, onChange }) {
  const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const dialog = /** @type {HTMLDialogElement} */ (byId("documents-dialog"));
  const list = byId("collection-list");
  const detail = byId("collection-detail");
  const detailName = byId("collection-detail-name");
  const documentList = byId("document-list");
  const upload = /** @type {HTMLInputElement} */ (byId("upload"));
  const uploadStatus = byId("upload-status");
  const error = byId("documents-error");
  const nameInput = /** @type {HTMLInputElement} */ (byId("collection-name"));
  /** @type {CollectionInfo[]} */
  let collections = [];
  /** @type {string | null} */
  let selected = null;

  /** @param {unknown} failure */
  const showError = (failure) => {
    error.textContent = failure instanceof Error ? failure.message : String(failure);
    error.hidden = false;
  };
  /** @param {() => Promise<unknown>} action */
  const guarded = async (action) => {
    error.hidden = true;
    try {
      await action();
    } catch (failure) {
      showError(failure);
    }
  };

  /** @param {string} text @param {string} label @param {() => void} onClick */
  const button = (text, label, onClick) => {
    const element = document.createElement("button");
    element.type = "button";
    element.className = "button icon";
    element.textContent = text;
    element.setAttribute("aria-label", label);
    element.title = label;
    element.addEventListener("click", onClick);
    return element;
  };

  async function refresh() {
    collections = await api("GET", "/collections?limit=1000");
    if (selected && !collections.some((collection) => collection.collection_id === selected)) selected = null;
    list.replaceChildren(
      ...collections.map((collection) => {
        const item = document.createElement("li");
        item.dataset.collectionId = collection.collection_id;
        if (collection.collection_id === selected) item.setAttribute("aria-current", "true");
        const open = document.createElement("button");
        open.type = "button";
        open.className = "button icon collection-open";
        const name = document.createElement("span");
        name.className = "collection-name";
        name.textContent = collection.name;
        const details = document.createElement("span");
        details.className = "collection-details";
        details.textContent = collectionDetails(collection);
        open.append(name, details);
        open.addEventListener("click", () => void guarded(() => select(collection.collection_id)));
        const remove = button("✕", `Delete the collection “${collection.name}”`, () => void guarded(() => removeCollection(collection)));
        remove.classList.add("collection-delete");
        item.append(open, remove);
        return item;
      }),
    );
    onChange(collections);
    await renderDetail();
  }

  async function renderDetail() {
    const collection = collections.find((candidate) => candidate.collection_id === selected);
    detail.hidden = !collection;
    if (!collection) return;
    detailName.textContent = collection.name;
    /** @type {DocumentInfo[]} */
    const documents = await api("GET", `/collections/${collection.collection_id}/documents?limit=1000`);
    documentList.replaceChildren(
      ...documents.map((info) => {
        const item = document.createElement("li");
        item.dataset.documentId = info.document_id;
        const name = document.createElement("span");
        name.className = "document-source";
        name.textContent = info.source;
        const meta = document.createElement("span");
        meta.className = "document-meta";
        meta.textContent = countOf(info.chunk_count, "part");
        const remove = button("✕", `Delete “${info.source}”`, () => void guarded(() => removeDocument(collection.collection_id, info)));
        remove.classList.add("document-delete");
        item.append(name, meta, remove);
        return item;
      }),
    );
  }

  /** @param {string} collectionId */
  async function select(collectionId) {
    selected = collectionId;
    await refresh();
  }

  /** @param {CollectionInfo} collection */
  async function removeCollection(collection) {
    if (!confirm(`Delete the collection “${collection.name}” and its ${countOf(collection.document_count, "document")}?`)) return;
    await api("DELETE", `/collections/${collection.collection_id}`);
    await refresh();
  }

  /** @param {string} collectionId @param {DocumentInfo} info */
  async function removeDocument(collectionId, info) {
    if (!confirm(`Delete “${info.source}” from the collection?`)) return;
    await api("DELETE", `/collections/${collectionId}/documents/${info.document_id}`);
    await refresh();
  }

  /** Uploads the chosen files one by one; one that fails does not stop the others. */
  async function uploadFiles() {
    const collectionId = selected;
    if (!collectionId) return;
    const files = [...(upload.files ?? [])];
    upload.value = "";
    /** @type {string[]} */
    const failures = [];
    for (const [index, file] of files.entries()) {
      uploadStatus.textContent = `Uploading ${file.name} (${index + 1} of ${files.length})…`;
      const contentType = contentTypeOfFile(file.name);
      try {
        if (!contentType) throw new Error("only .txt, .md and .pdf files can be added");
        const body =
          contentType === "application/pdf"
            ? { source: file.name, content_type: contentType, content_base64: base64Of(await file.arrayBuffer()) }
            : { source: file.name, content_type: contentType, content: await file.text() };
        await api("POST", `/collections/${collectionId}/documents`, body);
      } catch (failure) {
        failures.push(`${file.name}: ${failure instanceof Error ? failure.message : String(failure)}`);
      }
    }
    uploadStatus.textContent = files.length - failures.length > 0 ? `Added ${files.length - failures.length} of ${files.length}.` : "";
    if (failures.length > 0) showError(failures.join("\n"));
    await refresh();
  }

  byId("collection-create").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (name === "") return;
    void guarded(async () => {
      const created = await api("POST", "/collections", { name });
      nameInput.value = "";
      await select(created.collection_id);
    });
  });
  upload.addEventListener("change", () => void guarded(uploadFiles));
  byId("documents-close").addEventListener("click", () => dialog.close());

  return {
    /** Opens the dialog on the given collection (the chat's), if any. */
    async open(/** @type {string | null} */ collectionId) {
      selected = collectionId;
      dialog.showModal();
      await guarded(refresh);
    },
    refresh: () => guarded(refresh),
  };
}
