// Remembers the main window's size, position and maximized state between runs
// ($MARU_HOME/window-state.json), and never restores it off-screen.
import { screen, type BrowserWindow, type Rectangle } from 'electron';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../src-node/atomic-file';

interface WindowState {
  bounds: Rectangle;
  maximized: boolean;
}

export function loadWindowState(maruHome: string): WindowState | null {
  try {
    const s = JSON.parse(readFileSync(path.join(maruHome, 'window-state.json'), 'utf8')) as WindowState;
    const visible = screen.getAllDisplays().some((d) => {
      const a = d.workArea;
      return (
        s.bounds.x < a.x + a.width &&
        s.bounds.x + s.bounds.width > a.x &&
        s.bounds.y < a.y + a.height &&
        s.bounds.y >= a.y - 50
      );
    });
    return visible ? s : { ...s, bounds: { ...s.bounds, x: 0, y: 0 } };
  } catch {
    // First run or an unreadable file: default placement (the file is ours and rewritten on close).
    return null;
  }
}

export function trackWindowState(win: BrowserWindow, maruHome: string): void {
  let timer: NodeJS.Timeout | undefined;
  const save = () => {
    const state: WindowState = { bounds: win.getNormalBounds(), maximized: win.isMaximized() };
    void writeFileAtomic(path.join(maruHome, 'window-state.json'), JSON.stringify(state)).catch((err: unknown) =>
      console.error('maru: could not save the window state', err),
    );
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(save, 500);
  };
  win.on('resize', later);
  win.on('move', later);
  win.on('close', () => {
    clearTimeout(timer);
    save();
  });
}
