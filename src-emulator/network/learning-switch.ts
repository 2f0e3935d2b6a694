// The forwarding table of an internal network port: which link each source MAC address was
// last seen on (learned from traffic, forgotten when the link closes or after 5 minutes of
// silence, as an Ethernet switch ages its entries), and the address tests a switch needs.

/** How long a learned address stays without traffic from it (IEEE 802.1D's default aging time). */
export const MAC_AGING_MS = 300_000;
/** Bytes of an Ethernet header: destination, source, EtherType. Shorter frames are not Ethernet. */
export const ETHERNET_HEADER_BYTES = 14;

/** A MAC address at `offset` of `frame` as a number (48 bits fit a double exactly). */
export function macKey(frame: Uint8Array, offset: number): number {
  return (
    frame[offset]! * 2 ** 40 +
    frame[offset + 1]! * 2 ** 32 +
    ((frame[offset + 2]! << 24) >>> 0) +
    (frame[offset + 3]! << 16) +
    (frame[offset + 4]! << 8) +
    frame[offset + 5]!
  );
}

/** The destination is a group (broadcast or multicast) address: bit 0 of its first byte. */
export function isGroupDestination(frame: Uint8Array): boolean {
  return (frame[0]! & 1) === 1;
}

/** `aa:bb:cc:dd:ee:ff` for the MAC address at `offset` of `frame`. */
export function formatMac(frame: Uint8Array, offset = 0): string {
  return Array.from(frame.subarray(offset, offset + 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

interface Entry<L> {
  readonly link: L;
  seenAt: number;
}

/** Source address → the link it came from. `L` is whatever identifies a link (compared by identity). */
export class MacTable<L> {
  private readonly entries = new Map<number, Entry<L>>();

  constructor(
    private readonly agingMs = MAC_AGING_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records that the frame's source address (a unicast one) is behind `link`. */
  learn(frame: Uint8Array, link: L): void {
    if ((frame[6]! & 1) === 1) return; // a group address as source is bogus: never learn it
    const key = macKey(frame, 6);
    const entry = this.entries.get(key);
    if (entry && entry.link === link) entry.seenAt = this.now();
    else this.entries.set(key, { link, seenAt: this.now() });
  }

  /** The link the frame's (unicast) destination was learned on, or undefined when unknown or aged out. */
  lookup(frame: Uint8Array): L | undefined {
    const key = macKey(frame, 0);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.seenAt > this.agingMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.link;
  }

  /** Forgets every address learned on `link` (it closed). */
  forget(link: L): void {
    for (const [key, entry] of this.entries) if (entry.link === link) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
