import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { errors, HearthError } from "../../src/errors.ts";

test("every error code is documented in docs/api.md with its status and type", async () => {
  const doc = await readFile(new URL("../../docs/api.md", import.meta.url), "utf8");
  const rows = new Map([...doc.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \| `([a-z_]+)` \|/gm)].map((m) => [m[2], { status: Number(m[1]), type: m[3] }]));
  const codes = Object.values(errors).map((f) => f.code);
  assert.equal(new Set(codes).size, codes.length, "codes are unique");
  for (const factory of Object.values(errors)) {
    const row = rows.get(factory.code);
    assert.ok(row, `${factory.code} is documented`);
    assert.equal(row.status, factory.statusCode, `${factory.code} status`);
    assert.equal(row.type, factory.type, `${factory.code} type`);
  }
  assert.deepEqual([...rows.keys()].sort(), [...codes].sort(), "no documented code is missing from src/errors.ts");
});

test("an error serializes to OpenAI's shape and is recognized across copies of the module", () => {
  const err = errors.modelNotFound("x");
  assert.deepEqual(err.toJSON(), { error: { message: err.message, type: "invalid_request_error", param: "model", code: "model_not_found" } });
  assert.ok(HearthError.is(err));
  assert.ok(!HearthError.is(new Error("plain")));
});
