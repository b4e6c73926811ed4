/** `GET /api/openapi.json`: the OpenAPI 3.1 document, built once from the route list. */
import { readFileSync } from 'node:fs';
import { Router } from 'express';
import { ALL_ROUTES } from '../api/routes.js';
import { buildOpenApiDocument } from '../api/openapi.js';

const { version } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

/** The router serving `/api/openapi.json` (public: it describes the API and holds no data). */
export function openApiRouter(): Router {
  const router = Router();
  const document = JSON.stringify(buildOpenApiDocument(ALL_ROUTES, version));
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });
  return router;
}
