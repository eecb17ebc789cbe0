import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** The web app's build (Vite: index.html and hashed assets/*), as `npm run build:web` writes it. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("../../../web/dist", import.meta.url));

/** The app's own pages: a browser that opens one of these (or a path below) gets index.html. */
const APP_PAGES = ["/chat", "/conversations", "/dashboard", "/models"];

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hearth</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>Hearth is running</h1>
<p>The web app has not been built, so there is nothing to show here yet. Build it with</p>
<pre>npm run build:web</pre>
<p>and reload this page. The API is served at <code>/v1</code>; its documentation is at <a href="/docs">/docs</a>.</p>
</body></html>
`;

/**
 * GET / and the app's pages: the web app from `root` (hashed assets cached for a year, index.html
 * never without asking again), or, when it was not built, a page that says how to build it.
 * GET /docs: Swagger UI over the OpenAPI document.
 */
export async function webAppRoutes(parent: FastifyInstance, root: string): Promise<AppPage> {
  let page: AppPage | undefined;
  await parent.register(async (app) => {
    // Pages, assets and the API's documentation hold nothing secret: every route of this scope,
    // the plugins' included, is declared open (the key is asked for by the API calls they make).
    app.addHook("onRoute", (route) => { route.config = { ...route.config, access: "open" }; });
    page = await appRoutes(app, root);
  });
  return page!;
}

async function appRoutes(app: FastifyInstance, root: string): Promise<AppPage> {
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { deepLinking: true }, staticCSP: false });
  const built = existsSync(join(root, "index.html"));
  // Read, not sendFile: /models answers pages from the API's scope, where this scope's decorators are not.
  const page: AppPage = async (_request, reply) => reply.type("text/html; charset=utf-8").header("cache-control", "no-cache")
    .send(built ? await readFile(join(root, "index.html")) : NOT_BUILT);
  if (built) {
    await app.register(fastifyStatic, {
      root,
      prefix: "/",
      // Only the files there at start, each its own route: nothing else is looked up on disk.
      wildcard: false,
      cacheControl: false,
      setHeaders: (reply, path) => {
        const immutable = path.includes(`${sep}assets${sep}`);
        void reply.header("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
      },
    });
  } else {
    app.get("/", { schema: { hide: true } }, page);
  }
  for (const p of APP_PAGES.filter((p) => p !== "/models")) {
    app.get(p, { schema: { hide: true } }, page);
    app.get(`${p}/*`, { schema: { hide: true } }, page);
  }
  // /models is also the seeds' alias of GET /v1/models: that route sends browsers here.
  app.get("/models/*", { schema: { hide: true } }, page);
  return page;
}

/** Answers with the web app's index.html (or the not-built page). */
export type AppPage = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;
