/**
 * Who a per-address rate limit counts: the client's IPv4 address, or the /64 prefix of its IPv6
 * address. One subscriber, or one host, commonly holds a whole /64 (2^64 addresses), so counting
 * single IPv6 addresses would let one client pick a fresh address for every request.
 */
import { isIPv6 } from 'node:net';

/** The rate-limit key of `ip`: IPv4 as it is (IPv4-mapped IPv6 too), IPv6 as `<first 64 bits>::/64`. */
export function addressGroup(ip: string): string {
  const address = ip.replace(/%.*$/, ''); // a zone index names an interface, not a host
  if (!isIPv6(address)) return ip;
  const groups = ipv6Groups(address);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail as two groups). */
function ipv6Groups(address: string): number[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const parse = (part: string | undefined): number[] =>
    !part
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const [a, b, c, d] = g.split('.').map(Number);
          return [(a! << 8) | b!, (c! << 8) | d!];
        });
  const front = parse(head);
  const back = parse(tail);
  const zeros = tail === undefined ? [] : new Array<number>(8 - front.length - back.length).fill(0);
  return [...front, ...zeros, ...back];
}

/** The rate-limit key of a request: its client address, grouped as addressGroup says. */
export const clientGroup = (request: { ip: string }): string => addressGroup(request.ip);
