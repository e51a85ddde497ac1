/**
 * Where webhooks may go. A merchant chooses its endpoint's URL, so without a rule it could point
 * the service at itself (127.0.0.1), at the cloud's metadata service (169.254.169.254, which hands
 * out credentials) or at anything else on the private network, and read the answers' status codes
 * in the delivery log: server-side request forgery. So by default a webhook goes only to a public
 * address. The rule is applied twice: to the URL when an endpoint is registered, and to every address
 * the host name resolves to at the moment of each connection (a name can be re-pointed after it was
 * registered: DNS rebinding); the connection then goes to the address checked, not to a second
 * lookup. Redirects are never followed. WEBHOOK_ALLOW_PRIVATE=true lifts the rule (tests, or an
 * operator whose receivers live on its own network).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Addresses a webhook must not reach: this host, private networks, link-local and special ranges. */
const FORBIDDEN = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local: cloud metadata (169.254.169.254) lives here
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relays
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and broadcast
] as const) {
  FORBIDDEN.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64: reaches IPv4 addresses through a gateway
  ['64:ff9b:1::', 48], // local NAT64
  ['100::', 64], // discard
  ['2001::', 32], // Teredo: embeds an IPv4 address
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds an IPv4 address
  ['fc00::', 7], // unique local (AWS's IPv6 metadata fd00:ec2::254 is here)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  FORBIDDEN.addSubnet(network, prefix, 'ipv6');
}

/**
 * Whether a webhook may not go to `address` (an IPv4 or IPv6 address). IPv4-mapped IPv6 addresses
 * (::ffff:127.0.0.1) are judged as the IPv4 address they carry.
 */
export function forbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) throw new TypeError(`not an IP address: ${address}`);
  return FORBIDDEN.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** A webhook target that the address policy refuses. */
export class ForbiddenTargetError extends Error {
  override name = 'ForbiddenTargetError';
}

/** The host of `url` as an address or a name: IPv6 literals without their brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** How `url`'s host resolves: every address, as dns.lookup gives them. */
export type Resolver = (host: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

/**
 * Throws ForbiddenTargetError when `url`'s host is, or resolves to, an address the policy refuses
 * (any of its addresses: a name that also points inside is refused whole). A name that does not
 * resolve now passes: every delivery checks again when it connects.
 */
export async function checkTarget(url: URL, resolve: Resolver = systemResolver): Promise<void> {
  const host = hostOf(url);
  if (isIP(host)) {
    if (forbiddenAddress(host)) throw forbiddenTarget(host, host);
    return;
  }
  let addresses: LookupAddress[];
  try {
    addresses = await resolve(host);
  } catch {
    return;
  }
  const inside = addresses.find((a) => forbiddenAddress(a.address));
  if (inside) throw forbiddenTarget(host, inside.address);
}

/**
 * A `lookup` for http.request that resolves as dns.lookup does and fails the connection with a
 * ForbiddenTargetError when any address is forbidden, so the socket only ever opens to an address
 * that was checked. (http.request does not call `lookup` for an IP literal: see checkTarget.)
 */
export const guardedLookup = ((host: string, options: { all?: boolean }, callback: LookupCallback) => {
  dnsLookup(host, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const inside = addresses.find((a) => forbiddenAddress(a.address));
    if (inside) return callback(forbiddenTarget(host, inside.address), '', 0);
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}) as LookupFunction;

type LookupCallback = (err: Error | null, address: string | LookupAddress[], family?: number) => void;

/**
 * The refusal of `host`, found to be or to resolve to `address`. The address a name resolves to is
 * not said: the message reaches the merchant (the API's answer, the delivery log), and would tell it
 * how names resolve inside the operator's network.
 */
export function forbiddenTarget(host: string, address: string): ForbiddenTargetError {
  const what = host === address ? `${address} is` : `${host} resolves to`;
  return new ForbiddenTargetError(
    `${what} a loopback, private, link-local or reserved address; webhooks go only to public ` +
      'addresses (WEBHOOK_ALLOW_PRIVATE=true allows these)',
  );
}
