import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";

/** Clients send DELETE with `Content-Type: application/json` and no body; that is no body, not bad JSON. */
let server: TestServer;
before(async () => { server = await startServer({ fake: true, load: false }); });
after(() => server.close());

const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
  fetch(`${server.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });

test("DELETE with a JSON Content-Type and an empty body deletes the conversation", async () => {
  for (const headers of [{ "content-type": "application/json" }, { "content-type": "application/json; charset=utf-8" }, { "content-type": "text/plain" }]) {
    const conv = (await (await send("POST", "/v1/conversations", { "content-type": "application/json" }, "{}")).json()) as { id: string };
    const res = await send("DELETE", `/v1/conversations/${conv.id}`, headers);
    assert.equal(res.status, 200, headers["content-type"]);
    assert.deepEqual(await res.json(), { id: conv.id, object: "conversation.deleted", deleted: true });
  }
});

test("a POST with a JSON Content-Type and an empty body is still a 400", async () => {
  const res = await send("POST", "/v1/conversations", { "content-type": "application/json" }, "");
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error: { type: string } }).error.type, "invalid_request_error");
});
