// The control contract validates every call at the boundary: unknown services, unknown
// methods, prototype names and wrong argument shapes are refused before any service runs.
import { describe, expect, it } from 'vitest';
import {
  controlContract,
  createControlClient,
  dispatchControl,
  isJobMethod,
  validateControlRequest,
  type ControlServices,
  type ControlTransport,
} from '../../../src-shared/contracts/control';
import { LOCAL_USER_POLICY, containsMarked, type CallerPolicy } from '../../../src-shared/contracts/access';
import type { MethodSpec } from '../../../src-shared/contracts/method';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import { AppError } from '../../../src-shared/errors';

describe('validateControlRequest', () => {
  it('accepts a well-formed call', () => {
    expect(validateControlRequest({ service: 'library', method: 'show', args: ['Win11'] }).args).toEqual(['Win11']);
  });
  it.each([
    [{ service: 'nope', method: 'list', args: [] }, /Unknown service/],
    [{ service: 'library', method: 'nope', args: [] }, /Unknown method/],
    [{ service: '__proto__', method: 'list', args: [] }, /Unknown service/],
    [{ service: 'library', method: 'constructor', args: [] }, /Unknown method/],
    [{ service: 'library', method: 'toString', args: [] }, /Unknown method/],
    [{ service: 'library', method: 'show', args: [] }, /Invalid arguments/],
    [{ service: 'library', method: 'show', args: [42] }, /Invalid arguments/],
    [{ service: 'library', method: 'show', args: 'Win11' }, /Invalid arguments/],
    [{ service: 'library', method: 'delete', args: ['x', { deleteDisks: 'yes' }] }, /deleteDisks/],
    [{ service: 'library', method: 'create', args: [{ name: 'x', os: 'beos' }] }, /os/],
    [{ service: 'library', method: 'list', args: ['extra'] }, /Invalid arguments/],
  ])('refuses %j', (req, why) => {
    expect(() => validateControlRequest(req as never)).toThrow(why);
  });

  it('dispatches to the implementation with validated arguments and job options', async () => {
    const calls: unknown[][] = [];
    const impl = {
      library: {
        create: async (...a: unknown[]) => {
          calls.push(a);
          return 'made';
        },
      },
      host: {},
    } as unknown as ControlServices;
    const job = { onProgress: () => undefined };
    const r = await dispatchControl(
      impl,
      { service: 'library', method: 'create', args: [{ name: 'x' }] },
      { policy: LOCAL_USER_POLICY, job },
    );
    expect(r).toBe('made');
    expect(calls[0]).toEqual([{ name: 'x', os: 'other' }, job]);
  });
});

describe('job methods are marked in the contract', () => {
  it('create, clone, start, save state and serial follow are jobs; list and stop are not', () => {
    expect(isJobMethod('library', 'create')).toBe(true);
    expect(isJobMethod('library', 'clone')).toBe(true);
    expect(isJobMethod('vm', 'start')).toBe(true);
    expect(isJobMethod('vm', 'saveState')).toBe(true);
    expect(isJobMethod('vm', 'followSerial')).toBe(true);
    expect(isJobMethod('library', 'list')).toBe(false);
    expect(isJobMethod('vm', 'stop')).toBe(false);
    expect(isJobMethod('nope', 'list')).toBe(false);
  });
});

describe('createControlClient', () => {
  function recordingTransport() {
    const calls: { service: string; method: string; args: readonly unknown[]; job: unknown }[] = [];
    const transport: ControlTransport = {
      call: async (service, method, args, job) => {
        calls.push({ service, method, args, job });
        return `${service}.${method}`;
      },
      onEvent: () => () => undefined,
    };
    return { calls, client: createControlClient(transport) };
  }

  it('has every method of the contract, each reaching the transport with its service and name', async () => {
    const { calls, client } = recordingTransport();
    for (const [service, methods] of Object.entries(controlContract)) {
      for (const name of Object.keys(methods)) {
        const fn = (client as unknown as Record<string, Record<string, (...a: unknown[]) => Promise<unknown>>>)[
          service
        ]![name]!;
        expect(await fn('x')).toBe(`${service}.${name}`);
      }
    }
    expect(calls.length).toBe(Object.values(controlContract).reduce((n, m) => n + Object.keys(m).length, 0));
  });

  it('hands a job method its JobOptions apart from the arguments', async () => {
    const { calls, client } = recordingTransport();
    const seen: number[] = [];
    const job = { onProgress: (p: { fraction: number }) => void seen.push(p.fraction) };
    await client.vm.start('Dos', job);
    await client.library.clone('Dos', 'Dos 2', job);
    await client.vm.stop('Dos', { force: true });
    expect(calls.map(({ service, method, args }) => ({ service, method, args }))).toEqual([
      { service: 'vm', method: 'start', args: ['Dos'] },
      { service: 'library', method: 'clone', args: ['Dos', 'Dos 2'] },
      { service: 'vm', method: 'stop', args: ['Dos', { force: true }] },
    ]);
    expect(calls[2]!.job).toBeUndefined();
    (calls[0]!.job as JobOptions).onProgress!({ phase: 'launch', fraction: 0.5 });
    expect(seen).toEqual([0.5]);
  });

  it('hands the transport a job as plain data and functions (what a context bridge carries) that follows the signal', async () => {
    const { calls, client } = recordingTransport();
    const controller = new AbortController();
    await client.vm.start('Dos', { signal: controller.signal });
    const carried = (calls[0]!.job as JobOptions).signal!;
    expect(Object.getPrototypeOf(carried)).toBe(Object.prototype);
    expect(() => structuredClone({ aborted: carried.aborted })).not.toThrow();
    let heard = 0;
    carried.addEventListener('abort', () => heard++, { once: true });
    expect(carried.aborted).toBe(false);
    controller.abort();
    expect(carried.aborted).toBe(true);
    expect(heard).toBe(1);
  });

  it('turns a plain wire error a transport rejects with back into the AppError', async () => {
    const client = createControlClient({
      call: async () => {
        throw { code: 'NOT_FOUND', message: 'No VM named "x".' };
      },
      onEvent: () => () => undefined,
    });
    const err = await client.library.show('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'NOT_FOUND', message: 'No VM named "x".' });
  });
});

describe('the caller policy applies to every marked argument', () => {
  const seen: string[] = [];
  const policy: CallerPolicy = {
    checkHostPath: async (p, use) => {
      seen.push(`${use}:${p}`);
      if (p.startsWith('/etc')) throw new Error('not allowed');
      return `/resolved${p}`;
    },
    checkBindAddress: (a) => {
      seen.push(`bind:${a}`);
      if (a !== '127.0.0.1') throw new Error('loopback only');
    },
  };
  const echo = {
    library: { create: async (a: unknown) => a, modify: async (_r: unknown, p: unknown) => p },
    vm: {
      attachIso: async (_r: unknown, p: unknown) => p,
      addPortForward: async (_r: unknown, _n: unknown, f: unknown) => f,
    },
    media: { listIsoFolder: async (p: unknown) => p },
  } as unknown as ControlServices;
  const call = (service: string, method: string, args: unknown[]) =>
    dispatchControl(echo, { service, method, args }, { policy });

  it('host paths of create, modify, attachIso and listIsoFolder go through it (and are substituted)', async () => {
    seen.length = 0;
    expect(await call('library', 'create', [{ name: 'x', iso: '/isos/a.iso' }])).toMatchObject({
      iso: '/resolved/isos/a.iso',
    });
    expect(await call('library', 'modify', ['x', { iso: '/isos/b.iso' }])).toEqual({ iso: '/resolved/isos/b.iso' });
    expect(await call('vm', 'attachIso', ['x', '/isos/c.iso'])).toBe('/resolved/isos/c.iso');
    expect(await call('media', 'listIsoFolder', [null])).toBeNull();
    expect(seen).toEqual(['media:/isos/a.iso', 'media:/isos/b.iso', 'media:/isos/c.iso']);
    await expect(call('vm', 'attachIso', ['x', '/etc/shadow'])).rejects.toThrow('not allowed');
  });

  it("a port forward's host address goes through it (a VM's adapters, and a live forward)", async () => {
    const fwd = { protocol: 'tcp', hostPort: 2222, guestPort: 22 };
    const nics = (f: object) => ({
      nics: [
        { attachment: 'internal', network: 'lab', model: 'e1000', cableConnected: true, portForwards: [] },
        { attachment: 'nat', model: 'e1000', cableConnected: true, portForwards: [f] },
      ],
    });
    await expect(call('library', 'modify', ['x', nics({ ...fwd, hostAddress: '0.0.0.0' })])).rejects.toThrow(
      'loopback only',
    );
    await expect(call('vm', 'addPortForward', ['x', 0, { ...fwd, hostAddress: '::' }])).rejects.toThrow(
      'loopback only',
    );
    // The default address is checked too.
    seen.length = 0;
    await call('library', 'modify', ['x', nics(fwd)]);
    expect(await call('vm', 'addPortForward', ['x', 1, { ...fwd, name: 'ssh' }])).toEqual({
      ...fwd,
      name: 'ssh',
      hostAddress: '127.0.0.1',
    });
    expect(seen).toEqual(['bind:127.0.0.1', 'bind:127.0.0.1']);
    // Adapters are 0..3.
    await expect(call('vm', 'addPortForward', ['x', 4, fwd])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('every string argument of the contract that names a path or an address is marked', () => {
    // A new method that takes a path must use hostPathArg, or the web console could reach any file.
    for (const [service, methods] of Object.entries(controlContract)) {
      for (const [name, spec] of Object.entries(methods as Record<string, MethodSpec>)) {
        const marked = containsMarked(spec.args);
        const expected = [
          'library.create',
          'library.modify',
          'vm.attachIso',
          'media.detectIso',
          'media.listIsoFolder',
          'disks.inspect',
          'disks.import',
          'disks.convert',
          'disks.createFloppy',
          'disks.create',
          'library.attachStorage',
          'vm.changeMedium',
          'vm.addPortForward',
          'backup.export',
          'backup.import',
          'appliances.check',
          'appliances.export',
          'appliances.import',
        ];
        expect(marked, `${service}.${name}`).toBe(expected.includes(`${service}.${name}`));
      }
    }
  });
});
