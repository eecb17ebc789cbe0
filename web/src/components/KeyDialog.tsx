import { useEffect, useRef, useState } from "preact/hooks";
import { askForKey, currentKeyRequest, getKey, setKey, subscribeKeys } from "../lib/keys.ts";

function useKeysVersion(): void {
  const [, setTick] = useState(0);
  useEffect(() => subscribeKeys(() => setTick((n) => n + 1)), []);
}

/** The prompt for an API key (after a 401) or the admin key (after a 403); keys stay in sessionStorage. */
export function KeyDialog() {
  useKeysVersion();
  const request = currentKeyRequest();
  const ref = useRef<HTMLDialogElement>(null);
  const [value, setValue] = useState("");
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (request && !dialog.open) { setValue(""); dialog.showModal(); }
    if (!request && dialog.open) dialog.close();
  }, [request]);
  const title = request?.kind === "admin" ? "Admin key" : "API key";
  return (
    <dialog ref={ref} class="key-dialog" aria-labelledby="key-dialog-title" onCancel={(e) => { e.preventDefault(); request?.resolve(null); }}>
      <form method="dialog" onSubmit={(e) => { e.preventDefault(); request?.resolve(value.trim() || null); }}>
        <h2 id="key-dialog-title">{title} needed</h2>
        <p>{request?.reason}</p>
        <label>
          {title}
          <input type="password" autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} autofocus />
        </label>
        <p class="hint">Kept in this tab only (sessionStorage), sent as <code>Authorization: Bearer</code>.</p>
        <div class="row end">
          <button type="button" onClick={() => request?.resolve(null)}>Cancel</button>
          <button type="submit" class="primary">Use key</button>
        </div>
      </form>
    </dialog>
  );
}

/** The header's key menu: set or forget the API key and the admin key. */
export function KeysButton() {
  useKeysVersion();
  const api = getKey("api");
  const admin = getKey("admin");
  return (
    <div class="keys">
      <button type="button" onClick={() => void askForKey("api", "Enter an API key for this server.", true)}>{api ? "API key ✓" : "Set API key"}</button>
      <button type="button" onClick={() => void askForKey("admin", "Enter the admin key (model load, unload and pull).", true)}>{admin ? "Admin key ✓" : "Set admin key"}</button>
      {(api || admin) && <button type="button" onClick={() => { setKey("api", null); setKey("admin", null); }}>Forget keys</button>}
    </div>
  );
}
