/**
 * The API key and the admin key, kept in sessionStorage only (gone when the tab closes; never
 * localStorage or cookies), and the prompt that asks for one when the server answers 401 or 403.
 */
export type KeyKind = "api" | "admin";

const STORAGE: Record<KeyKind, string> = { api: "hearth.apiKey", admin: "hearth.adminKey" };

export function getKey(kind: KeyKind): string | null {
  try {
    return sessionStorage.getItem(STORAGE[kind]);
  } catch {
    return null;
  }
}

export function setKey(kind: KeyKind, value: string | null): void {
  if (value) sessionStorage.setItem(STORAGE[kind], value);
  else sessionStorage.removeItem(STORAGE[kind]);
  emit();
}

/** The key to send: the admin key also works as an API key, so it is the fallback either way. */
export function keyFor(admin: boolean): string | null {
  return admin ? getKey("admin") ?? getKey("api") : getKey("api") ?? getKey("admin");
}

export interface KeyRequest {
  kind: KeyKind;
  reason: string;
  resolve(key: string | null): void;
}

let pending: KeyRequest | null = null;
const waiting = new Map<KeyKind, Promise<string | null>>();
/** Kinds the user declined to give: not asked again until they open the keys dialog themselves. */
const declined = new Set<KeyKind>();
const listeners = new Set<() => void>();
const emit = () => { for (const l of listeners) l(); };

export function subscribeKeys(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function currentKeyRequest(): KeyRequest | null {
  return pending;
}

/**
 * Asks the user for a key (one prompt at a time: concurrent callers share it). Resolves to the key,
 * or null when the user cancels.
 */
export function askForKey(kind: KeyKind, reason: string, force = false): Promise<string | null> {
  if (declined.has(kind) && !force) return Promise.resolve(null);
  const already = waiting.get(kind);
  if (already) return already;
  const asked = new Promise<string | null>((resolve) => {
    pending = {
      kind, reason,
      resolve: (key) => {
        pending = null;
        waiting.delete(kind);
        if (key) {
          declined.delete(kind);
          setKey(kind, key);
        } else declined.add(kind);
        emit();
        resolve(key);
      },
    };
  });
  waiting.set(kind, asked);
  emit();
  return asked;
}
