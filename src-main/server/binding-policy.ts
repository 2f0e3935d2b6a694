// Where the web console may listen: loopback by default; any other address only with TLS,
// because session cookies and VM consoles must not cross a network in the clear.
import { AppError } from '../../src-shared/errors';

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export function checkBinding(host: string, tls: boolean): void {
  if (isLoopbackHost(host) || tls) return;
  throw new AppError(
    'INVALID_ARGUMENT',
    `Refusing to listen on ${host} without TLS: passwords, session cookies and VM screens would cross the network ` +
      'unencrypted. Pass --tls-cert FILE --tls-key FILE, or keep the default 127.0.0.1 and reach it through an SSH tunnel ' +
      '(ssh -L 7780:127.0.0.1:7780 your-nas).',
  );
}
