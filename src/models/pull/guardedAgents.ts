import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Agent as HttpAgent, type ClientRequestArgs } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Duplex } from "node:stream";
import { isIP, type LookupFunction } from "node:net";
import { addressClass, type AddressClass } from "./addressClass.ts";

/** A pull was about to connect to a non-public address. */
export class BlockedAddressError extends Error {
  override name = "BlockedAddressError";
  readonly code = "HEARTH_BLOCKED_ADDRESS";
  readonly addressClass: AddressClass;
  constructor(addressClass: AddressClass) {
    super(`refused to connect to a ${addressClass} address`);
    this.addressClass = addressClass;
  }
}

/** The BlockedAddressError somewhere in `err`'s cause chain (fetch and SDK errors wrap it). */
export function blockedIn(err: unknown): BlockedAddressError | null {
  let e: unknown = err;
  for (let depth = 0; depth < 6 && e instanceof Error; depth++) {
    if (e instanceof BlockedAddressError) return e;
    e = e.cause;
  }
  return null;
}

type Classify = (address: string) => AddressClass | null;

/** Throws when `host` is an IP literal of a refused class; a name is judged when it is resolved. */
export function checkLiteralHost(host: string, classify: Classify = addressClass): void {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  if (isIP(bare.replace(/%.*$/, "")) === 0) return;
  const cls = classify(bare);
  if (cls) throw new BlockedAddressError(cls);
}

export interface Agents {
  http: HttpAgent;
  https: HttpsAgent;
}

/**
 * A DNS lookup that fails when any address of the name is non-public. It runs inside the socket's
 * connect, and the socket connects to the addresses it returned, so the address checked is the
 * address used: a name re-pointed between a check and the connection (DNS rebinding) cannot slip
 * through. Any bad address refuses the name, since happy eyeballs may try every one.
 */
function checkedLookup(classify: Classify): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, "", 0);
      const cls = addresses.map((a) => classify(a.address)).find((c) => c !== null);
      if (cls) return callback(new BlockedAddressError(cls), "", 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "", 0);
      callback(null, first.address, first.family);
    });
  };
}

type Connect = (err: Error | null, stream: Duplex) => void;

/** A literal IP host skips the lookup, so the agents check it themselves before connecting. */
function refusedLiteral(options: ClientRequestArgs, callback: Connect | undefined, classify: Classify): boolean {
  try {
    checkLiteralHost(options.host ?? options.hostname ?? "", classify);
    return false;
  } catch (err) {
    if (!callback) throw err;
    callback(err as Error, undefined as unknown as Duplex);
    return true;
  }
}

/**
 * Agents whose every connection is checked: a literal address before connecting, a name's
 * addresses inside the connect's own lookup. `classify` is addressClass but in tests.
 */
export function guardedAgents(classify: Classify = addressClass): Agents {
  const lookup = checkedLookup(classify);
  class GuardedHttpAgent extends HttpAgent {
    override createConnection(options: ClientRequestArgs, callback?: Connect) {
      return refusedLiteral(options, callback, classify) ? undefined : super.createConnection({ ...options, lookup }, callback);
    }
  }
  class GuardedHttpsAgent extends HttpsAgent {
    override createConnection(options: ClientRequestArgs, callback?: Connect) {
      return refusedLiteral(options, callback, classify) ? undefined : super.createConnection({ ...options, lookup }, callback);
    }
  }
  return { http: new GuardedHttpAgent(), https: new GuardedHttpsAgent() };
}

let guarded: Agents | null = null;
let open: Agents | null = null;

/**
 * Agents for pull connections; with `allowPrivate` false every connection's addresses are checked.
 * No keep-alive: a pull makes one or two requests, and a kept socket would hold a CLI open.
 */
export function pullAgents(allowPrivate: boolean): Agents {
  if (allowPrivate) return (open ??= { http: new HttpAgent(), https: new HttpsAgent() });
  return (guarded ??= guardedAgents());
}
