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
    const t = new LoginThrottle(5, 1000, 60_000, 1000, () => now);
    for (let i = 0; i < 5; i++) {
      expect(t.check('a').allowed).toBe(true);
      t.recordFailure('a');
    }
    expect(t.check('a')).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect(t.check('b').allowed).toBe(true); // other clients unaffected
    now = 1000;
    expect(t.check('a').allowed).toBe(true);
    t.recordFailure('a');
    expect(t.check('a').retryAfterMs).toBe(2000);
  });
  it('has a global ceiling', () => {
    const t = new LoginThrottle(5, 1000, 60_000, 3, () => 0);
    expect([1, 2, 3, 4].map((i) => t.check(`c${i}`).allowed)).toEqual([true, true, true, false]);
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
