// Sessions expire (idle and absolute), are capped, and close their sockets when they end;
// the login throttle lets a handful through, then backs off.
import { describe, expect, it } from 'vitest';
import { SessionStore } from '../../../src-main/server/session-store';
import { LoginThrottle } from '../../../src-main/server/login-throttle';
import { ConsoleTickets } from '../../../src-main/server/console-tickets';
import { checkBinding, isLoopbackHost } from '../../../src-main/server/binding-policy';

describe('SessionStore', () => {
  it('expires idle sessions and closes their sockets', () => {
    let now = 0;
    const store = new SessionStore({ maxSessions: 4, idleMs: 1000, absoluteMs: 10_000, now: () => now });
    const s = store.create();
    const closed: number[] = [];
    s.sockets.add({ close: (code) => closed.push(code) });
    now = 900;
    expect(store.get(s.id)).toBe(s);
    now = 1800; // idle 900 since last seen: still alive
    expect(store.get(s.id)).toBe(s);
    now = 2900;
    expect(store.get(s.id)).toBeUndefined();
    expect(closed).toEqual([4401]);
  });
  it('has an absolute lifetime', () => {
    let now = 0;
    const store = new SessionStore({ maxSessions: 4, idleMs: 1000, absoluteMs: 3000, now: () => now });
    const s = store.create();
    for (now = 500; now < 3000; now += 500) expect(store.get(s.id)).toBe(s);
    now = 3001;
    expect(store.get(s.id)).toBeUndefined();
  });
  it('caps sessions by evicting the least recently used', () => {
    let now = 0;
    const store = new SessionStore({ maxSessions: 2, idleMs: 1e9, absoluteMs: 1e9, now: () => now });
    const a = store.create();
    now = 1;
    const b = store.create();
    now = 2;
    store.get(a.id);
    now = 3;
    store.create();
    expect(store.size).toBe(2);
    expect(store.get(b.id)).toBeUndefined();
    expect(store.get(a.id)).toBe(a);
  });
  it('unknown or missing ids are no session', () => {
    const store = new SessionStore({ maxSessions: 2, idleMs: 1e9, absoluteMs: 1e9 });
    expect(store.get(undefined)).toBeUndefined();
    expect(store.get('forged')).toBeUndefined();
  });
});

describe('LoginThrottle', () => {
  it('allows five failures, then backs off exponentially', () => {
    let now = 0;
    const t = new LoginThrottle({ freeAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000, now: () => now });
    for (let i = 0; i < 5; i++) {
      const a = t.begin('a');
      expect(a.allowed).toBe(true);
      a.settle('failure');
    }
    expect(t.begin('a')).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    expect(t.begin('b').allowed).toBe(true); // other clients unaffected
    now = 1000;
    const sixth = t.begin('a');
    expect(sixth.allowed).toBe(true);
    sixth.settle('failure');
    expect(t.begin('a').retryAfterMs).toBe(2000);
  });

  it('counts attempts in flight: a burst from one client gets the free attempts only', () => {
    const t = new LoginThrottle({ freeAttempts: 5, now: () => 0 });
    const burst = Array.from({ length: 80 }, () => t.begin('a'));
    expect(burst.filter((a) => a.allowed)).toHaveLength(5);
    // Another client is not held back by that burst.
    expect(t.begin('b').allowed).toBe(true);
    // A success clears the client's count; settling twice counts once.
    burst[0]!.settle('success');
    burst[0]!.settle('failure');
    expect(t.begin('a').allowed).toBe(true);
  });

  it('runs one password check per client at a time and a few in all', async () => {
    const t = new LoginThrottle({ maxConcurrentChecks: 2 });
    let running = 0;
    let peak = 0;
    const perClient = new Map<string, number>();
    let peakPerClient = 0;
    const check = (client: string) =>
      t.check(client, async () => {
        running++;
        perClient.set(client, (perClient.get(client) ?? 0) + 1);
        peak = Math.max(peak, running);
        peakPerClient = Math.max(peakPerClient, perClient.get(client)!);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        perClient.set(client, perClient.get(client)! - 1);
      });
    await Promise.all([...Array.from({ length: 5 }, () => check('a')), check('b'), check('c')]);
    expect(peak).toBe(2);
    expect(peakPerClient).toBe(1);
  });
});

describe('ConsoleTickets', () => {
  it('are single-use, bound to session and VM, and expire', () => {
    let now = 0;
    const tickets = new ConsoleTickets(1000, () => now);
    const a = tickets.issue('s1', 'vm1');
    expect(tickets.redeem(a, 's1', 'vm1')).toBe(true);
    expect(tickets.redeem(a, 's1', 'vm1')).toBe(false);
    const b = tickets.issue('s1', 'vm1');
    expect(tickets.redeem(b, 's1', 'vm2')).toBe(false);
    expect(tickets.redeem(b, 's1', 'vm1')).toBe(false); // spent by the wrong attempt
    const c = tickets.issue('s1', 'vm1');
    expect(tickets.redeem(c, 's2', 'vm1')).toBe(false);
    const d = tickets.issue('s1', 'vm1');
    now = 1000;
    expect(tickets.redeem(d, 's1', 'vm1')).toBe(false);
  });
});

describe('binding policy', () => {
  it('knows loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', 'nas.local']) expect(isLoopbackHost(h)).toBe(false);
  });
  it('refuses non-loopback without TLS and explains', () => {
    expect(() => checkBinding('0.0.0.0', false)).toThrow(/without TLS.*--tls-cert/);
    expect(() => checkBinding('0.0.0.0', true)).not.toThrow();
    expect(() => checkBinding('127.0.0.1', false)).not.toThrow();
  });
});
