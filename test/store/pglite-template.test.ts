import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { PgliteStore } from "../../src/store/PgliteStore.ts";

// New embedded databases are copies of a template made once per cache folder (src/store/pgliteInitdb.ts).
const root = await mkdtemp(join(tmpdir(), "hearth-pglite-template-"));
after(() => rm(root, { recursive: true, force: true }));

test("databases made at once from a new cache folder share one template and nothing else", async () => {
  const cache = join(root, "cache");
  const stores = await Promise.all(["a", "b"].map((name) => PgliteStore.open({ dir: join(root, name, "pglite"), cacheDir: cache })));
  try {
    await stores[0]!.exec("CREATE TABLE only_in_a (x int); INSERT INTO only_in_a VALUES (1)");
    const elsewhere = await stores[1]!.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_in_a'");
    assert.equal(elsewhere.rows[0]!.n, 0, "a copy does not share its tables");
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
  const left = await readdir(cache);
  assert.equal(left.length, 1, `one template and no half-made ones: ${left.join(", ")}`);
  assert.match(left[0]!, /^pglite-template-\d+\.\d+\.\d+-[0-9a-f]{8}$/);

  // A later database is made from it, and keeps what was written after a restart.
  const dir = join(root, "d", "pglite");
  const d = await PgliteStore.open({ dir, cacheDir: cache });
  await d.exec("CREATE TABLE kept (x int)");
  await d.close();
  const again = await PgliteStore.open({ dir, cacheDir: cache });
  try {
    assert.equal((await again.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'kept'")).rows[0]!.n, 1);
  } finally {
    await again.close();
  }
});

test("where no template can be kept, the database is made in place and the reason logged", async () => {
  const blocked = join(root, "not-a-folder");
  await writeFile(blocked, "a file where the cache folder would be");
  const logged: string[] = [];
  const store = await PgliteStore.open({ dir: join(root, "e", "pglite"), cacheDir: blocked, log: (m) => logged.push(m) });
  try {
    assert.equal((await store.query<{ one: number }>("SELECT 1 AS one")).rows[0]!.one, 1);
  } finally {
    await store.close();
  }
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /no database template in .*not-a-folder/);
});
