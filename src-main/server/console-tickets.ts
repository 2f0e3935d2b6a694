// Console tickets: a console WebSocket needs one — short-lived, single use, bound to the
// session that asked for it and to one VM.
import { randomBytes } from 'node:crypto';

interface Ticket {
  sessionId: string;
  vmId: string;
  expiresAt: number;
}

export class ConsoleTickets {
  private readonly tickets = new Map<string, Ticket>();
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  issue(sessionId: string, vmId: string): string {
    const t = this.now();
    for (const [k, v] of this.tickets) if (v.expiresAt <= t) this.tickets.delete(k);
    const id = randomBytes(24).toString('base64url');
    this.tickets.set(id, { sessionId, vmId, expiresAt: t + this.ttlMs });
    return id;
  }

  /** True once for a valid ticket of this session and VM; the ticket is spent either way. */
  redeem(id: string, sessionId: string, vmId: string): boolean {
    const t = this.tickets.get(id);
    if (!t) return false;
    this.tickets.delete(id);
    return t.sessionId === sessionId && t.vmId === vmId && t.expiresAt > this.now();
  }
}
