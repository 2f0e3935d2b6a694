// Whether a port forward's host side is free: bound for a moment (TCP: a listening server,
// UDP: a socket) and let go, so a port another program holds is refused with a clear message
// before QEMU is asked (QEMU only says "Could not set up host forwarding rule").
import dgram from 'node:dgram';
import net from 'node:net';
import { AppError } from '../../../src-shared/errors';
import type { PortForward } from '../../../src-shared/vm-config';

/** Throws HOST_LIMIT (in use, or not allowed) or INVALID_ARGUMENT (no such address here) unless `rule`'s host socket can be bound. */
export async function assertHostPortFree(
  rule: Pick<PortForward, 'protocol' | 'hostAddress' | 'hostPort'>,
): Promise<void> {
  const { hostAddress: address, hostPort: port } = rule;
  try {
    if (rule.protocol === 'tcp') await bindTcp(address, port);
    else await bindUdp(address, port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new AppError(
        'HOST_LIMIT',
        `Host port ${port} on ${address} is already in use by another program; choose another port.`,
      );
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new AppError(
        'HOST_LIMIT',
        `Host port ${port} on ${address} needs privileges this user does not have (ports below 1024 usually do); ` +
          'choose a port above 1023.',
      );
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_FAIL' || code === 'EINVAL') {
      throw new AppError(
        'INVALID_ARGUMENT',
        `${address} is not an address of this computer, so nothing can listen on it; use 127.0.0.1 (this computer ` +
          'only) or 0.0.0.0 (every network it is on).',
      );
    }
    throw new AppError('IO', `Cannot check host port ${port} on ${address}: ${(err as Error).message}`);
  }
}

function bindTcp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

function bindUdp(address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.bind({ address, port, exclusive: true }, () => socket.close(() => resolve()));
  });
}
