// The display view's strings (English and Korean), registered into i18next when the view
// loads, so they live next to the view.
import i18next from 'i18next';

export const displayEn = {
  title: 'Screen of {{name}}',
  toolbar: 'Display controls',
  scale: 'Scale',
  fit: 'Fit to window',
  actual: '1:1',
  fullscreen: 'Full screen',
  printScreen: 'Print Screen',
  paste: 'Type clipboard',
  screenshot: 'Screenshot',
  hostKey: 'Host key',
  hostKeys: {
    ControlRight: 'Right Ctrl',
    AltRight: 'Right Alt',
    MetaRight: 'Right Win/Cmd',
    ScrollLock: 'Scroll Lock',
    Pause: 'Pause',
  },
  captured: 'Keyboard captured — press {{key}} to release',
  notCaptured: 'Click the screen to capture the keyboard',
  mouseCaptured: 'Mouse and keyboard captured — press {{key}} to release',
  notCapturedMouse: 'Click the screen to capture the mouse and keyboard',
  mouseLockFailed: 'The browser did not let the screen capture the mouse: {{message}}',
  connecting: 'Connecting to the screen…',
  disconnected: 'The screen is disconnected.',
  lost: 'The connection to the VM was lost.',
  reconnect: 'Reconnect',
  clipboardDenied: 'Cannot read the clipboard: {{message}}',
};

export const displayKo: typeof displayEn = {
  title: '{{name}} 화면',
  toolbar: '화면 제어',
  scale: '배율',
  fit: '창에 맞춤',
  actual: '1:1',
  fullscreen: '전체 화면',
  printScreen: 'Print Screen 키',
  paste: '클립보드 입력',
  screenshot: '스크린샷',
  hostKey: '호스트 키',
  hostKeys: {
    ControlRight: '오른쪽 Ctrl',
    AltRight: '오른쪽 Alt',
    MetaRight: '오른쪽 Win/Cmd',
    ScrollLock: 'Scroll Lock 키',
    Pause: 'Pause 키',
  },
  captured: '키보드 입력이 가상 머신으로 갑니다 — {{key}} 키로 해제',
  mouseCaptured: '마우스와 키보드 입력이 가상 머신으로 갑니다 — {{key}} 키로 해제',
  notCapturedMouse: '화면을 클릭하면 마우스와 키보드 입력이 가상 머신으로 갑니다',
  mouseLockFailed: '브라우저가 마우스 캡처를 허용하지 않았습니다: {{message}}',
  notCaptured: '화면을 클릭하면 키보드 입력이 가상 머신으로 갑니다',
  connecting: '화면에 연결하는 중…',
  disconnected: '화면 연결이 끊어졌습니다.',
  lost: '가상 머신과의 연결이 끊어졌습니다.',
  reconnect: '다시 연결',
  clipboardDenied: '클립보드를 읽을 수 없습니다: {{message}}',
};

export function registerDisplayStrings(): void {
  i18next.addResourceBundle('en', 'translation', { display: displayEn }, true, false);
  i18next.addResourceBundle('ko', 'translation', { display: displayKo }, true, false);
}
