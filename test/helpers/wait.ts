/**
 * Waits until `check` holds, looking again every few milliseconds: for state that another process
 * owns (a runner's slots), where there is no event to wait on. Fails after `timeoutMs`.
 */
export async function waitUntil(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
