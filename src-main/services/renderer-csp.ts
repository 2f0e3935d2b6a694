// The Content-Security-Policy for the renderer, on the desktop and in the web console: our own
// scripts only, no eval, no inline script, no remote content (inline styles: web console only).
function rendererCsp(styleSrc: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    `style-src ${styleSrc}`,
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; ');
}

/** The web console: its signed-in pages are server-rendered, with style attributes in the markup. */
export const RENDERER_CSP = rendererCsp("'self' 'unsafe-inline'");

/**
 * The desktop page (maru-app://) is never server-rendered: React sets styles through the CSSOM,
 * which CSP does not govern, so inline style markup is refused as well.
 */
export const DESKTOP_RENDERER_CSP = rendererCsp("'self'");
