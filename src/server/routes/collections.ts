import { type Response, Router } from "express";
import { NotFoundError } from "../../errors.js";
import type { DocumentContentType } from "../../storage/documents.js";
import { ownerOf } from "../auth.js";
import type { AppDeps } from "../app-deps.js";
import { CollectionCreate, CollectionList, CollectionPath, CollectionSearch, DocumentCreate, DocumentPath, parseInput } from "../schemas.js";
import { collectionToWire, documentToWire, hitToWire } from "../wire.js";

/** The content type of an upload: as given, else from the file name's extension. */
function contentTypeOf(body: DocumentCreate): DocumentContentType {
  if (body.content_type) return body.content_type;
  if (/\.(md|markdown)$/i.test(body.source)) return "text/markdown";
  if (/\.pdf$/i.test(body.source)) return "application/pdf";
  return "text/plain";
}

/** Collections of documents: create, list, get, delete; documents in them; search. */
export function collectionsRouter(deps: Pick<AppDeps, "documents">): Router {
  const router = Router();
  const { documents } = deps;
  /** The collection if it exists and the caller may see it; otherwise 404. */
  const requireCollection = (collectionId: string, response: Response) => documents.requireCollection(collectionId, ownerOf(response));

  router.post("/collections", async (request, response) => {
    const body = parseInput(CollectionCreate, request.body);
    const collection = await documents.createCollection({ name: body.name, metadata: body.metadata ?? {}, owner: ownerOf(response) });
    response.status(201).json(collectionToWire(collection));
  });

  router.get("/collections", async (request, response) => {
    const query = parseInput(CollectionList, request.query, "query");
    await documents.setup();
    const collections = await documents.store.listCollections({ owner: ownerOf(response), limit: query.limit, offset: query.offset });
    response.json(collections.map(collectionToWire));
  });

  router.get("/collections/:collection_id", async (request, response) => {
    const { collection_id } = parseInput(CollectionPath, request.params, "path");
    response.json(collectionToWire(await requireCollection(collection_id, response)));
  });

  router.delete("/collections/:collection_id", async (request, response) => {
    const { collection_id } = parseInput(CollectionPath, request.params, "path");
    await requireCollection(collection_id, response);
    await documents.store.deleteCollection(collection_id);
    response.status(204).end();
  });

  router.post("/collections/:collection_id/documents", async (request, response) => {
    const { collection_id } = parseInput(CollectionPath, request.params, "path");
    const body = parseInput(DocumentCreate, request.body);
    await requireCollection(collection_id, response);
    const contentType = contentTypeOf(body);
    const text = await documents.extractText({ contentType, content: body.content, contentBase64: body.content_base64, source: body.source });
    const document = await documents.addDocument({ collectionId: collection_id, source: body.source, contentType, text, metadata: body.metadata });
    response.status(201).json(documentToWire(document));
  });

  router.get("/collections/:collection_id/documents", async (request, response) => {
    const { collection_id } = parseInput(CollectionPath, request.params, "path");
    const query = parseInput(CollectionList, request.query, "query");
    await requireCollection(collection_id, response);
    response.json((await documents.store.listDocuments(collection_id, { limit: query.limit, offset: query.offset })).map(documentToWire));
  });

  router.get("/collections/:collection_id/documents/:document_id", async (request, response) => {
    const { collection_id, document_id } = parseInput(DocumentPath, request.params, "path");
    await requireCollection(collection_id, response);
    const document = await documents.store.getDocument(collection_id, document_id);
    if (!document) throw new NotFoundError(`Document ${document_id} not found in collection ${collection_id}`);
    response.json(documentToWire(document));
  });

  router.delete("/collections/:collection_id/documents/:document_id", async (request, response) => {
    const { collection_id, document_id } = parseInput(DocumentPath, request.params, "path");
    await requireCollection(collection_id, response);
    if (!(await documents.store.deleteDocument(collection_id, document_id))) throw new NotFoundError(`Document ${document_id} not found in collection ${collection_id}`);
    response.status(204).end();
  });

  router.post("/collections/:collection_id/search", async (request, response) => {
    const { collection_id } = parseInput(CollectionPath, request.params, "path");
    const body = parseInput(CollectionSearch, request.body);
    await requireCollection(collection_id, response);
    const result = await documents.search(collection_id, body.query, body.k);
    response.json({ query: body.query, methods: result.methods, results: result.hits.map(hitToWire) });
  });

  return router;
}
