import { readFileSync, readdirSync } from "node:fs";

export interface ProcessMemory { pid: number; name: string; rssBytes: number; pssBytes: number }

/**
 * Memory of a process and its descendants (Linux /proc), each process's resident set and its
 * proportional set: pages shared between processes (the node binary, libraries, a model file
 * mapped twice) count once in the sum of PSS, as many times as they are mapped in the sum of RSS.
 */
export function memoryTree(pid: number): ProcessMemory[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch { /* gone */ }
  }
  const one = (p: number): ProcessMemory | null => {
    try {
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, "utf8");
      const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0) * 1024;
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").filter(Boolean);
      const name = cmd.find((a) => /\.(ts|js)$/.test(a))?.split("/").at(-1) ?? cmd[0]?.split("/").at(-1) ?? String(p);
      return { pid: p, name, rssBytes: kb("Rss"), pssBytes: kb("Pss") };
    } catch {
      return null;
    }
  };
  const walk = (p: number): ProcessMemory[] => [one(p), ...(children.get(p) ?? []).flatMap(walk)].filter((m): m is ProcessMemory => m !== null);
  return walk(pid);
}
