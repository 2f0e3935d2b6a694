// A QMP session recorded from QEMU 7.2.22 (Debian) on this host: greeting, capabilities,
// query-status, a snapshot-save job (its events arrive before the reply), query-jobs,
// job-dismiss, an unknown command, cont/stop and quit. Each entry is one line QEMU sent (CRLF-terminated on the wire).
export const RECORDED_QMP_LINES: readonly string[] = [
  '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}',
  '{"return": {}, "id": 1}',
  '{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": 2}',
  '{"timestamp": {"seconds": 1795379487, "microseconds": 496946}, "event": "JOB_STATUS_CHANGE", "data": {"status": "created", "id": "maru-snapshot-save-1"}}',
  '{"timestamp": {"seconds": 1795379487, "microseconds": 497046}, "event": "JOB_STATUS_CHANGE", "data": {"status": "running", "id": "maru-snapshot-save-1"}}',
  '{"return": {}, "id": 3}',
  '{"timestamp": {"seconds": 1795379487, "microseconds": 517039}, "event": "JOB_STATUS_CHANGE", "data": {"status": "waiting", "id": "maru-snapshot-save-1"}}',
  '{"timestamp": {"seconds": 1795379487, "microseconds": 517072}, "event": "JOB_STATUS_CHANGE", "data": {"status": "pending", "id": "maru-snapshot-save-1"}}',
  '{"timestamp": {"seconds": 1795379487, "microseconds": 517090}, "event": "JOB_STATUS_CHANGE", "data": {"status": "concluded", "id": "maru-snapshot-save-1"}}',
  '{"return": [{"current-progress": 1, "status": "concluded", "total-progress": 1, "type": "snapshot-save", "id": "maru-snapshot-save-1"}], "id": 4}',
  '{"timestamp": {"seconds": 1795379488, "microseconds": 398633}, "event": "JOB_STATUS_CHANGE", "data": {"status": "null", "id": "maru-snapshot-save-1"}}',
  '{"return": {}, "id": 5}',
  '{"id": 6, "error": {"class": "CommandNotFound", "desc": "The command no-such-command has not been found"}}',
  '{"timestamp": {"seconds": 1795379488, "microseconds": 598283}, "event": "RESUME"}',
  '{"return": {}, "id": 7}',
  '{"timestamp": {"seconds": 1795379488, "microseconds": 698663}, "event": "STOP"}',
  '{"return": {}, "id": 8}',
  '{"timestamp": {"seconds": 1795379488, "microseconds": 798741}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}',
  '{"return": {}, "id": 9}',
];

/** The whole recorded stream as bytes on the wire. */
export const RECORDED_QMP_BYTES: string = RECORDED_QMP_LINES.map((l) => `${l}\r\n`).join('');
