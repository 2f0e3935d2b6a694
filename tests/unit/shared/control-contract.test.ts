// The control contract validates every call at the boundary: unknown services, unknown
// methods, prototype names and wrong argument shapes are refused before any service runs.
import { describe, expect, it } from 'vitest';
import { dispatchControl, validateControlRequest, type ControlServices } from '../../../src-shared/contracts/control';

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
    const r = await dispatchControl(impl, {
      service: 'library',
      method: 'create',
      args: [{ name: 'x' }],
      job: { index: 1, options: job },
    });
    expect(r).toBe('made');
    expect(calls[0]).toEqual([{ name: 'x', os: 'other' }, job]);
  });
});
