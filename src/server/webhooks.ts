/**
 * Webhooks: a finished run, with its thread's values, POSTed to a URL its caller named. Since the
 * server makes that request from inside its network, a webhook may only reach public addresses
 * (unless the operator allows private ones): the name is resolved and every address it resolves
 * to is checked when the run is created, and again when the webhook is called, and the request
 * connects only to the addresses that were checked, so a name that changes its answer in between
 * (DNS rebinding) reaches nothing. Redirects are not followed.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, type LookupFunction, isIP } from "node:net";
import { ValidationError } from "../errors.js";

/** One address a name resolves to, as `dns.lookup` gives it. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to all its addresses; tests inject one that needs no DNS. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** How long a webhook may take to accept a run's result. */
const DEFAULT_TIMEOUT_MS = 10_000;

/** Blocks of addresses a webhook may not reach, by the name a refusal gives them. */
function blocks(kind: string, family: "ipv4" | "ipv6", subnets: Array<[string, number]>): [string, BlockList] {
  const list = new BlockList();
  for (const [network, prefix] of subnets) list.addSubnet(network, prefix, family);
  return [kind, list];
}

/**
 * IPv4 ranges that are not globally reachable (IANA's special-purpose registry). A BlockList of
 * IPv4 subnets also matches the IPv4-mapped IPv6 form (`::ffff:127.0.0.1`).
 */
const IPV4_BLOCKS: Array<[string, BlockList]> = [
  blocks("unspecified (\"this network\")", "ipv4", [["0.0.0.0", 8]]),
  blocks("loopback", "ipv4", [["127.0.0.0", 8]]),
  blocks("private", "ipv4", [["10.0.0.0", 8], ["172.16.0.0", 12], ["192.168.0.0", 16]]),
  blocks("link-local", "ipv4", [["169.254.0.0", 16]]),
  blocks("shared (carrier-grade NAT)", "ipv4", [["100.64.0.0", 10]]),
  blocks("multicast", "ipv4", [["224.0.0.0", 4]]),
  blocks("reserved", "ipv4", [["240.0.0.0", 4], ["192.0.0.0", 24], ["192.88.99.0", 24], ["198.18.0.0", 15]]),
  blocks("documentation", "ipv4", [["192.0.2.0", 24], ["198.51.100.0", 24], ["203.0.113.0", 24]]),
];

/** IPv6 ranges inside global unicast (2000::/3) that are not globally reachable. */
const IPV6_BLOCKS: Array<[string, BlockList]> = [
  // Teredo (2001::/32) and other IETF protocol assignments: tunnels and special uses.
  blocks("reserved", "ipv6", [["2001::", 23]]),
  blocks("documentation", "ipv6", [["2001:db8::", 32], ["3fff::", 20]]),
];
const GLOBAL_UNICAST = blocks("global unicast", "ipv6", [["2000::", 3]])[1];

/** Kinds of IPv6 addresses outside global unicast, for the refusal's message. */
const IPV6_KINDS: Array<[string, BlockList]> = [
  blocks("loopback", "ipv6", [["::1", 128]]),
  blocks("unspecified", "ipv6", [["::", 128]]),
  blocks("link-local", "ipv6", [["fe80::", 10]]),
  blocks("private (unique local)", "ipv6", [["fc00::", 7], ["fec0::", 10]]),
  blocks("multicast", "ipv6", [["ff00::", 8]]),
  blocks("IPv4-translated", "ipv6", [["::ffff:0:0:0", 96], ["64:ff9b:1::", 48]]),
];

/** The 8 groups of an IPv6 address, as numbers (the URL parser normalises every spelling). */
function ipv6Groups(address: string): number[] {
  const normal = new URL(`http://[${address.replace(/%.*$/, "")}]/`).hostname.slice(1, -1);
  const [head = "", tail] = normal.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((group) => Number.parseInt(group, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

const ipv4From = (high: number, low: number) => [high >> 8, high & 255, low >> 8, low & 255].join(".");

/**
 * The IPv4 address an IPv6 address carries, for the forms whose traffic goes to it: IPv4-mapped
 * (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`). The deprecated
 * IPv4-compatible form (`::a.b.c.d`) is refused outright, as is all of `::/8` but global unicast.
 */
function embeddedIpv4(address: string): string | undefined {
  const groups = ipv6Groups(address);
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) return ipv4From(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return ipv4From(g6, g7);
  if (g0 === 0x2002) return ipv4From(g1, g2);
  return undefined;
}

/**
 * Why a webhook may not go to `address` ("loopback", "private", "link-local", ...), or
 * `undefined` when it is a public address. Anything that is not an IP address is refused.
 */
export function nonPublicKind(address: string): string | undefined {
  const version = isIP(address.replace(/%.*$/, ""));
  if (version === 4) return IPV4_BLOCKS.find(([, list]) => list.check(address, "ipv4"))?.[0];
  if (version !== 6) return "not an IP address";
  const embedded = embeddedIpv4(address);
  if (embedded !== undefined) return nonPublicKind(embedded);
  const special = IPV6_KINDS.find(([, list]) => list.check(address, "ipv6"))?.[0];
  if (special) return special;
  if (!GLOBAL_UNICAST.check(address, "ipv6")) return "reserved";
  return IPV6_BLOCKS.find(([, list]) => list.check(address, "ipv6"))?.[0];
}

/** A webhook URL that may not be called, with the reason; a 422 when it comes with a new run. */
export class WebhookRefusedError extends ValidationError {}

export interface WebhookOptions {
  /** Private, loopback and other non-public targets are allowed (`WEBHOOK_ALLOW_PRIVATE`). */
  allowPrivate?: boolean;
  /** Resolves host names; `dns.lookup` with `all: true` by default. */
  resolve?: Resolver;
  timeoutMs?: number;
}

/** Checks and calls webhooks; see the module comment for what is refused and why. */
export class Webhooks {
  readonly #allowPrivate: boolean;
  readonly #resolve: Resolver;
  readonly #timeoutMs: number;

  constructor(options: WebhookOptions = {}) {
    this.#allowPrivate = options.allowPrivate ?? false;
    this.#resolve = options.resolve ?? systemResolver;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /**
   * Throws WebhookRefusedError (422) when `url` may not be called: it resolves to no address, or
   * to one that is not public (unless private targets are allowed).
   */
  async check(url: string): Promise<void> {
    if (!this.#allowPrivate) await this.#publicAddresses(new URL(url));
  }

  /**
   * POSTs `payload` as JSON to `url`, connecting only to addresses checked just now; resolves with
   * the HTTP status. A redirect is not followed (its 3xx status is the result). Rejects with
   * WebhookRefusedError when the target is not allowed, or with the network error.
   */
  async post(url: string, payload: unknown): Promise<number> {
    const target = new URL(url);
    let lookup: LookupFunction | undefined;
    if (!this.#allowPrivate) {
      const addresses = await this.#publicAddresses(target);
      // The connection goes to these addresses and no others: no second resolution that could answer differently.
      lookup = (_hostname, options, callback) => {
        if (options.all) (callback as (error: null, addresses: ResolvedAddress[]) => void)(null, addresses);
        else callback(null, (addresses[0] as ResolvedAddress).address, (addresses[0] as ResolvedAddress).family);
      };
    }
    const body = JSON.stringify(payload);
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<number>((resolve, reject) => {
      const request = send(target, {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        // A connection of its own: no pooled socket, so each call is checked and connected anew.
        agent: false,
        lookup,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      request.on("response", (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on("error", reject);
      request.end(body);
    });
  }

  /** Every address `url`'s host resolves to, all of them public; else WebhookRefusedError. */
  async #publicAddresses(url: URL): Promise<ResolvedAddress[]> {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    let addresses: ResolvedAddress[];
    try {
      addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await this.#resolve(host);
    } catch (error) {
      throw new WebhookRefusedError(`webhook: the host ${host} cannot be resolved (${(error as Error).message})`, { cause: error });
    }
    if (addresses.length === 0) throw new WebhookRefusedError(`webhook: the host ${host} resolves to no address`);
    for (const { address } of addresses) {
      const kind = nonPublicKind(address);
      if (kind !== undefined) {
        const named = host === address ? address : `${host} (${address})`;
        throw new WebhookRefusedError(
          `webhook: ${named} is not a public address (${kind}); webhooks may only go to public addresses (the operator can allow others with WEBHOOK_ALLOW_PRIVATE=true)`,
        );
      }
    }
    return addresses;
  }
}
