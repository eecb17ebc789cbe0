import { isIPv4, isIPv6 } from "node:net";

/** Why an address is not a public one; pulls refuse these unless pull.allow_private_addresses is set. */
export type AddressClass = "loopback" | "private" | "carrier-grade NAT" | "link-local" | "unspecified" | "unique-local" | "multicast" | "reserved";

type Range = [prefix: number[], bits: number, cls: AddressClass];

// IANA's special-purpose registries (RFC 6890 and its updates); anything not listed is public.
const V4: Range[] = [
  [[0], 8, "unspecified"],
  [[10], 8, "private"],
  [[100, 64], 10, "carrier-grade NAT"],
  [[127], 8, "loopback"],
  [[169, 254], 16, "link-local"],
  [[172, 16], 12, "private"],
  [[192, 0, 0], 24, "reserved"],
  [[192, 0, 2], 24, "reserved"],
  [[192, 88, 99], 24, "reserved"],
  [[192, 168], 16, "private"],
  [[198, 18], 15, "reserved"],
  [[198, 51, 100], 24, "reserved"],
  [[203, 0, 113], 24, "reserved"],
  [[224], 4, "multicast"],
  [[240], 4, "reserved"],
];

const V6: Range[] = [
  [[], 128, "unspecified"],
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"],
  // IPv4-compatible addresses (::a.b.c.d), deprecated; never a public destination.
  [[], 96, "reserved"],
  [[0, 0x64, 0xff, 0x9b, 0, 1], 48, "private"],
  [[1, 0, 0, 0, 0, 0, 0, 0], 64, "reserved"],
  [[0x20, 0x01, 0x0d, 0xb8], 32, "reserved"],
  [[0x20, 0x01, 0, 2, 0, 0], 48, "reserved"],
  [[0xfc], 7, "unique-local"],
  [[0xfe, 0x80], 10, "link-local"],
  [[0xfe, 0xc0], 10, "private"],
  [[0xff], 8, "multicast"],
];

/**
 * The class of a non-public IP address, or null for a public one. IPv6 forms that carry an IPv4
 * address the kernel or a gateway will reach (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4
 * 2002::/16) are judged by that IPv4 address. Not an IP address at all: "reserved".
 */
export function addressClass(address: string): AddressClass | null {
  const ip = address.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  if (isIPv4(ip)) return match(ip.split(".").map(Number), V4);
  if (!isIPv6(ip)) return "reserved";
  const b = ipv6Bytes(ip);
  const embedded = embeddedIpv4(b);
  if (embedded) return match(embedded, V4);
  return match(b, V6);
}

function embeddedIpv4(b: number[]): number[] | null {
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12);
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return b.slice(12);
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6);
  return null;
}

function match(bytes: number[], table: Range[]): AddressClass | null {
  for (const [prefix, bits, cls] of table) {
    if (inPrefix(bytes, prefix, bits)) return cls;
  }
  return null;
}

function inPrefix(bytes: number[], prefix: number[], bits: number): boolean {
  for (let i = 0; i * 8 < bits; i++) {
    const mask = bits - i * 8 >= 8 ? 0xff : (0xff << (8 - (bits - i * 8))) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** 16 bytes of a valid IPv6 address, a trailing dotted IPv4 part included. */
function ipv6Bytes(ip: string): number[] {
  let text = ip.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const words = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}
