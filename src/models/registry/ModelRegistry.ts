import { EventEmitter } from "node:events";
import { watch, type FSWatcher } from "node:fs";
import { mkdir, readdir, realpath, stat, unlink } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { errors } from "../../errors.ts";

/** A model's sampling defaults (config `defaults:`), for requests that set none. */
export interface ModelDefaults { temperature?: number; topK?: number; topP?: number; minP?: number; maxTokens?: number }

/** A model's chat template settings (config: `chat_wrapper`, `chat_template`, `chat_template_kwargs`). */
export interface TemplateSettings {
  /** `auto` (see the engine's ChatTemplate), `jinja` (the template as written), or a node-llama-cpp wrapper type (`qwen`, `harmony`, `llama3.1`, ...). */
  wrapper?: string;
  /** A Jinja template file that replaces the one the GGUF carries. */
  templateFile?: string;
  /** Defaults for the template's variables (Qwen3's `enable_thinking`), under each request's own. */
  kwargs?: Record<string, unknown>;
}

/** Per-model settings; unset ones take the server-wide value. */
export interface ModelSettings {
  contextSize?: number;
  slots?: number;
  threads?: number;
  /** Loaded at start, never unloaded. */
  pinned: boolean;
  /** Seconds an idle model stays loaded; negative: never unloaded. Unset: the server's default. */
  keepAliveSeconds?: number;
  /** Sampling defaults for requests that set none. */
  defaults: ModelDefaults;
  /** The chat template to use instead of the file's, its wrapper, its variables' defaults. */
  template?: TemplateSettings;
}

export interface ModelEntry {
  id: string;
  path: string;
  aliases: string[];
  /** Where it was declared: `models:` or `model:` in the config, --model, or a file in the models folder. */
  source: "config" | "folder";
  settings: ModelSettings;
  /** Unix seconds at which it was registered. */
  created: number;
}

export interface RegistryEvents {
  added: [ModelEntry];
  removed: [ModelEntry];
}

/** A file name the folder scan takes as a model: `name.gguf`, not hidden, no control characters. */
const MODEL_FILE = /^[^.\x00-\x1f/\\][^\x00-\x1f/\\]*\.gguf$/i;
const RESCAN_DELAY_MS = 200;

/**
 * Which models exist: those the config declares, and every GGUF file in the models folder, found at
 * start and again whenever the folder changes. Names map to entries only (an id or an alias): a
 * requested name is never used as a path, so no name can reach a file outside the folder.
 */
export class ModelRegistry extends EventEmitter<RegistryEvents> {
  readonly #declared: ModelEntry[];
  readonly #dir: string;
  readonly #log: (message: string) => void;
  #folder = new Map<string, ModelEntry>();
  #byName = new Map<string, ModelEntry>();
  #watcher: FSWatcher | null = null;
  #rescan: NodeJS.Timeout | null = null;
  #scanning: Promise<void> = Promise.resolve();

  constructor(opts: { declared: ModelEntry[]; modelsDir: string; log?: (message: string) => void }) {
    super();
    this.#declared = opts.declared;
    this.#dir = resolve(opts.modelsDir);
    this.#log = opts.log ?? (() => {});
    this.#index();
  }

  get modelsDir(): string { return this.#dir; }

  /** Scans the models folder (creating it if needed) and watches it for changes. */
  async start(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await this.scan();
    try {
      this.#watcher = watch(this.#dir, () => this.#scheduleScan());
      this.#watcher.on("error", (err) => this.#log(`models folder watch: ${err.message}`));
    } catch (err) {
      this.#log(`models folder ${this.#dir} is not watched (${(err as Error).message}); it is scanned at start only`);
    }
  }

  close(): void {
    this.#watcher?.close();
    if (this.#rescan) clearTimeout(this.#rescan);
  }

  list(): ModelEntry[] {
    return [...this.#declared, ...this.#folder.values()];
  }

  /** The model a client's name (id or alias) refers to. */
  resolve(name: string): ModelEntry | undefined {
    return this.#byName.get(name);
  }

  /**
   * Deletes the file of a model found in the models folder and forgets it (a model still loaded is
   * unloaded once its requests are done). A model the config declares is refused: its file is the
   * operator's, and it would come back at the next start.
   */
  async delete(name: string): Promise<ModelEntry> {
    const entry = this.resolve(name);
    if (!entry) throw errors.modelNotFound(name);
    if (entry.source !== "folder") throw errors.modelNotDeletable(name);
    await unlink(entry.path).catch((err: NodeJS.ErrnoException) => { if (err.code !== "ENOENT") throw err; });
    await this.scan();
    return entry;
  }

  /** Reads the folder again; resolves when done (scans never overlap). */
  scan(): Promise<void> {
    this.#scanning = this.#scanning.then(() => this.#scan(), () => this.#scan());
    return this.#scanning;
  }

  #scheduleScan(): void {
    if (this.#rescan) clearTimeout(this.#rescan);
    this.#rescan = setTimeout(() => { this.#rescan = null; void this.scan(); }, RESCAN_DELAY_MS);
    this.#rescan.unref();
  }

  async #scan(): Promise<void> {
    const found = new Map<string, ModelEntry>();
    const declaredPaths = new Set(this.#declared.map((e) => e.path));
    const declaredNames = new Set(this.#declared.flatMap((e) => [e.id, ...e.aliases]));
    let names: string[] = [];
    try {
      names = await readdir(this.#dir);
    } catch (err) {
      this.#log(`cannot read the models folder: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    for (const name of names.sort()) {
      if (!MODEL_FILE.test(name)) continue;
      const path = join(this.#dir, name);
      const id = basename(name).replace(/\.gguf$/i, "");
      if (declaredPaths.has(path) || declaredNames.has(id)) continue;
      const unusable = await this.#unusable(path);
      if (unusable) {
        this.#log(`models folder: '${name}' ${unusable}; ignored`);
        continue;
      }
      const previous = this.#folder.get(id);
      found.set(id, previous ?? { id, path, aliases: [], source: "folder", settings: { pinned: false, defaults: {} }, created: Math.floor(Date.now() / 1000) });
    }
    const before = this.#folder;
    this.#folder = found;
    this.#index();
    for (const [id, entry] of found) if (!before.has(id)) this.emit("added", entry);
    for (const [id, entry] of before) if (!found.has(id)) this.emit("removed", entry);
  }

  /** Why `path` is not a model file: its real path is outside the folder, or it is not a regular file. */
  async #unusable(path: string): Promise<string | null> {
    try {
      const [real, dir] = await Promise.all([realpath(path), realpath(this.#dir)]);
      const rel = relative(dir, real);
      if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) return "points outside the folder";
      const info = await stat(real);
      if (info.isDirectory()) return "is a directory, not a file";
      return info.isFile() ? null : "is not a regular file";
    } catch (err) {
      return `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`;
    }
  }

  #index(): void {
    const byName = new Map<string, ModelEntry>();
    for (const entry of this.list()) {
      for (const name of [entry.id, ...entry.aliases]) if (!byName.has(name)) byName.set(name, entry);
    }
    this.#byName = byName;
  }
}
