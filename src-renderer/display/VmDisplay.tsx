// A running VM's screen: noVNC on the engine's RFB channel, with scale modes, keyboard
// capture (released by the host key), keys the host OS would eat, paste-as-typing and
// screenshots. Frames never enter React state: noVNC draws straight into its canvas.
// Pointer: absolute (noVNC's own events) where the engine has a tablet; pointer lock with
// relative motion (relative-pointer.ts) where the guest has only a relative mouse.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import RFB from '@novnc/novnc';
import { saveBlob, screenshotFileName } from '../app/save-file';
import { useAppStore } from '../store/app-store';
import type { ControlTransport } from '../transport/control-transport';
import { openConsoleChannel } from './open-console';
import { textToKeysyms, HOST_KEY_CHOICES, type HostKeyCode } from './keysyms';
import { registerDisplayStrings } from './display-strings';
import { RelativePointer, rfbButtonBit } from './relative-pointer';

export type ScaleMode = 'fit' | 'actual' | 'fullscreen';
type Status = 'connecting' | 'connected' | 'disconnected';

const HOST_KEY_STORAGE = 'maru.hostKey';

export function loadHostKey(): HostKeyCode {
  const saved = localStorage.getItem(HOST_KEY_STORAGE);
  return (HOST_KEY_CHOICES as readonly string[]).includes(saved ?? '') ? (saved as HostKeyCode) : 'ControlRight';
}

export interface VmDisplayProps {
  transport: ControlTransport;
  vmId: string;
  vmName: string;
}

let stringsRegistered = false;

export function VmDisplay({ transport, vmId, vmName }: VmDisplayProps) {
  if (!stringsRegistered) {
    registerDisplayStrings();
    stringsRegistered = true;
  }
  const { t } = useTranslation();
  const services = useAppStore((s) => s.services);
  const frameRef = useRef<HTMLDivElement>(null);
  const screenRef = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<RFB | null>(null);
  const channelRef = useRef<{ send(data: Uint8Array<ArrayBuffer>): void } | null>(null);
  const [mouseLocked, setMouseLocked] = useState(false);
  // One position for this view's whole life, so captures continue where the last one stopped.
  const relativePointer = useRef(new RelativePointer((m) => channelRef.current?.send(m)));
  // The running engine's pointer: a usb-tablet (absolute, noVNC's own events) or a relative
  // mouse (pointer lock). Asked once connected; absolute until known.
  const [absolutePointer, setAbsolutePointer] = useState(true);
  const [status, setStatus] = useState<Status>('connecting');
  const [reason, setReason] = useState('');
  const [captured, setCaptured] = useState(false);
  const [mode, setMode] = useState<ScaleMode>('fit');
  const [hostKey, setHostKey] = useState<HostKeyCode>(loadHostKey);
  const [attempt, setAttempt] = useState(0);

  // Connect (and reconnect on `attempt`); disconnect on unmount.
  useEffect(() => {
    const screen = screenRef.current;
    if (!screen) return;
    let rfb: RFB | null = null;
    let cancelled = false;
    setStatus('connecting');
    void openConsoleChannel(transport, vmId).then(
      (channel) => {
        if (cancelled) {
          channel.close();
          return;
        }
        rfb = new RFB(screen, channel, { shared: true });
        channelRef.current = channel;
        rfb.background = '#111';
        rfb.focusOnClick = true;
        rfbRef.current = rfb;
        rfb.addEventListener('connect', () => setStatus('connected'));
        rfb.addEventListener('disconnect', (e) => {
          const detail = (e as CustomEvent<{ clean: boolean }>).detail;
          setStatus('disconnected');
          setReason(detail?.clean ? '' : t('display.lost'));
          setCaptured(false);
        });
      },
      (err: unknown) => {
        setStatus('disconnected');
        setReason(err instanceof Error ? err.message : String(err));
      },
    );
    return () => {
      cancelled = true;
      rfbRef.current = null;
      channelRef.current = null;
      rfb?.disconnect();
    };
  }, [transport, vmId, attempt, t]);

  useEffect(() => {
    if (status !== 'connected' || !services) return;
    let current = true;
    services.vm.status(vmId).then(
      (st) => {
        if (current && st) setAbsolutePointer(st.capabilities.absolutePointer);
      },
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [services, vmId, status]);

  // A relative mouse: the guest gets pointer input only while the screen holds the pointer
  // (a click captures it, the host key or Esc releases it); noVNC never sees those events.
  useEffect(() => {
    const screen = screenRef.current;
    if (!screen || absolutePointer || status !== 'connected') return;
    const pointer = relativePointer.current;
    const locked = () => document.pointerLockElement === screen;
    const swallow = (e: Event) => {
      e.stopPropagation();
      e.preventDefault();
    };
    const onDown = (e: MouseEvent) => {
      swallow(e);
      if (locked()) {
        pointer.button(rfbButtonBit(e.button), true);
        return;
      }
      rfbRef.current?.focus();
      Promise.resolve(screen.requestPointerLock()).catch((err: unknown) =>
        setReason(t('display.mouseLockFailed', { message: err instanceof Error ? err.message : String(err) })),
      );
    };
    const onUp = (e: MouseEvent) => {
      swallow(e);
      if (locked()) pointer.button(rfbButtonBit(e.button), false);
    };
    const onMove = (e: MouseEvent) => {
      swallow(e);
      if (locked()) pointer.move(e.movementX, e.movementY);
    };
    const onWheel = (e: WheelEvent) => {
      swallow(e);
      if (locked()) pointer.wheel(e.deltaX, e.deltaY);
    };
    const onLockChange = () => {
      const now = locked();
      setMouseLocked(now);
      if (now) pointer.sync();
      else pointer.releaseAll();
    };
    const handlers: [string, (e: never) => void][] = [
      ['mousedown', onDown],
      ['mouseup', onUp],
      ['mousemove', onMove],
      ['wheel', onWheel],
      ['click', swallow],
      ['contextmenu', swallow],
      ['gesturestart', swallow],
      ['gesturemove', swallow],
      ['gestureend', swallow],
    ];
    for (const [type, h] of handlers)
      screen.addEventListener(type, h as EventListener, { capture: true, passive: false });
    document.addEventListener('pointerlockchange', onLockChange);
    return () => {
      for (const [type, h] of handlers) screen.removeEventListener(type, h as EventListener, { capture: true });
      document.removeEventListener('pointerlockchange', onLockChange);
      if (locked()) document.exitPointerLock();
      setMouseLocked(false);
    };
  }, [absolutePointer, status, t]);

  // Scale modes. "actual" is one guest pixel per device pixel (crisp on HiDPI).
  useEffect(() => {
    const rfb = rfbRef.current;
    if (!rfb || status !== 'connected') return;
    rfb.scaleViewport = mode !== 'actual';
    rfb.resizeSession = mode !== 'actual';
    rfb.clipViewport = false;
    const canvas = screenRef.current?.querySelector('canvas');
    if (canvas) {
      const dpr = window.devicePixelRatio || 1;
      if (mode === 'actual') {
        canvas.style.width = `${canvas.width / dpr}px`;
        canvas.style.height = `${canvas.height / dpr}px`;
      }
      canvas.style.imageRendering = mode === 'actual' ? 'pixelated' : 'auto';
    }
  }, [mode, status]);

  useEffect(() => {
    const onFs = () => {
      if (!document.fullscreenElement && mode === 'fullscreen') setMode('fit');
    };
    document.addEventListener('fullscreenchange', onFs);
    return () => document.removeEventListener('fullscreenchange', onFs);
  }, [mode]);

  const chooseMode = useCallback((m: ScaleMode) => {
    setMode(m);
    if (m === 'fullscreen') void frameRef.current?.requestFullscreen?.();
    else if (document.fullscreenElement) void document.exitFullscreen();
  }, []);

  // Keyboard capture: the canvas has focus. The host key releases it and never reaches the guest.
  useEffect(() => {
    const frame = frameRef.current;
    if (!frame) return;
    const onDown = (e: KeyboardEvent) => {
      if (e.code === hostKey && (captured || document.pointerLockElement)) {
        e.preventDefault();
        e.stopImmediatePropagation();
        if (document.pointerLockElement) document.exitPointerLock();
        rfbRef.current?.blur();
        (document.activeElement as HTMLElement | null)?.blur();
        setCaptured(false);
      }
    };
    const onFocusIn = () => setCaptured(!!screenRef.current?.contains(document.activeElement));
    const onFocusOut = () => setTimeout(() => setCaptured(!!screenRef.current?.contains(document.activeElement)), 0);
    frame.addEventListener('keydown', onDown, true);
    frame.addEventListener('focusin', onFocusIn);
    frame.addEventListener('focusout', onFocusOut);
    return () => {
      frame.removeEventListener('keydown', onDown, true);
      frame.removeEventListener('focusin', onFocusIn);
      frame.removeEventListener('focusout', onFocusOut);
    };
  }, [hostKey, captured]);

  const sendCombo = (combo: 'ctrl-alt-del' | 'alt-tab' | 'print') => {
    const rfb = rfbRef.current;
    if (!rfb) return;
    if (combo === 'ctrl-alt-del') rfb.sendCtrlAltDel();
    else if (combo === 'alt-tab') {
      rfb.sendKey(0xffe9, 'AltLeft', true);
      rfb.sendKey(0xff09, 'Tab', true);
      rfb.sendKey(0xff09, 'Tab', false);
      rfb.sendKey(0xffe9, 'AltLeft', false);
    } else {
      rfb.sendKey(0xff61, 'PrintScreen');
    }
  };

  const pasteAsKeys = async () => {
    const rfb = rfbRef.current;
    if (!rfb) return;
    let text = '';
    try {
      text = await navigator.clipboard.readText();
    } catch (err) {
      setReason(t('display.clipboardDenied', { message: err instanceof Error ? err.message : String(err) }));
      return;
    }
    for (const k of textToKeysyms(text)) {
      if (k.shift) rfb.sendKey(0xffe1, 'ShiftLeft', true);
      rfb.sendKey(k.keysym, k.code);
      if (k.shift) rfb.sendKey(0xffe1, 'ShiftLeft', false);
    }
  };

  const screenshot = () => {
    const rfb = rfbRef.current;
    if (!rfb) return;
    rfb.toBlob((blob) => {
      if (blob) saveBlob(blob, screenshotFileName(vmName));
    }, 'image/png');
  };

  const hostKeyLabel = t(`display.hostKeys.${hostKey}`);
  return (
    <section className={`vm-display mode-${mode}`} ref={frameRef} aria-label={t('display.title', { name: vmName })}>
      <div className="display-toolbar" role="toolbar" aria-label={t('display.toolbar')}>
        <label>
          {t('display.scale')}
          <select value={mode} onChange={(e) => chooseMode(e.target.value as ScaleMode)}>
            <option value="fit">{t('display.fit')}</option>
            <option value="actual">{t('display.actual')}</option>
            <option value="fullscreen">{t('display.fullscreen')}</option>
          </select>
        </label>
        <button type="button" onClick={() => sendCombo('ctrl-alt-del')} disabled={status !== 'connected'}>
          Ctrl+Alt+Del
        </button>
        <button type="button" onClick={() => sendCombo('alt-tab')} disabled={status !== 'connected'}>
          Alt+Tab
        </button>
        <button type="button" onClick={() => sendCombo('print')} disabled={status !== 'connected'}>
          {t('display.printScreen')}
        </button>
        <button type="button" onClick={() => void pasteAsKeys()} disabled={status !== 'connected'}>
          {t('display.paste')}
        </button>
        <button type="button" onClick={screenshot} disabled={status !== 'connected'}>
          {t('display.screenshot')}
        </button>
        <label>
          {t('display.hostKey')}
          <select
            value={hostKey}
            onChange={(e) => {
              const k = e.target.value as HostKeyCode;
              localStorage.setItem(HOST_KEY_STORAGE, k);
              setHostKey(k);
            }}
          >
            {HOST_KEY_CHOICES.map((k) => (
              <option key={k} value={k}>
                {t(`display.hostKeys.${k}`)}
              </option>
            ))}
          </select>
        </label>
        <span
          className={`capture ${captured || mouseLocked ? 'on' : 'off'}`}
          role="status"
          data-testid="capture-indicator"
        >
          {mouseLocked
            ? t('display.mouseCaptured', { key: hostKeyLabel })
            : captured
              ? t('display.captured', { key: hostKeyLabel })
              : absolutePointer
                ? t('display.notCaptured')
                : t('display.notCapturedMouse')}
        </span>
      </div>
      <div
        className="display-screen"
        ref={screenRef}
        data-status={status}
        data-pointer={absolutePointer ? 'absolute' : 'relative'}
        data-testid="vm-screen"
      />
      {status !== 'connected' && (
        <div className="display-overlay" role="status">
          {status === 'connecting' ? t('display.connecting') : t('display.disconnected')}
          {reason && <span className="error"> {reason}</span>}
          {status === 'disconnected' && (
            <button type="button" onClick={() => setAttempt((n) => n + 1)}>
              {t('display.reconnect')}
            </button>
          )}
        </div>
      )}
    </section>
  );
}
