// Names of the Electron IPC channels (the preload and main agree on these only).
export const CONTROL_CHANNEL = 'maru:control';
