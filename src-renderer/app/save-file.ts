// Saving something the page made (a screenshot) as a download: a Blob behind a temporary
// object URL and an anchor with `download`. The browser (or Electron) asks where or saves it.

/** Starts the download of `blob` as `fileName`. */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.click();
  // The download has taken the bytes long before this; the URL would otherwise live with the page.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** `<vm name>-<ISO time>.png`, with characters a file system may refuse replaced. */
export function screenshotFileName(vmName: string, at: Date = new Date()): string {
  return `${vmName.replace(/[^\p{L}\p{N} ._-]/gu, '_')}-${at.toISOString().replace(/[:.]/g, '-')}.png`;
}
