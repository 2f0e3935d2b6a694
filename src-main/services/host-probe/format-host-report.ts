// The human text report of `maru host`: host, QEMU, firmware, TPM, storage, the accelerator
// table, the chosen accelerator and the findings — aligned plain text, no colors.
import { formatBytes } from '../../../src-shared/format-bytes';
import type { AcceleratorName, AcceleratorVerdict, HostFinding, HostInfo } from '../../../src-shared/host-info';

const LABEL_WIDTH = 20;
const WRAP_WIDTH = 100;

const ACCEL_LABEL: Record<AcceleratorName, string> = {
  kvm: 'KVM',
  hvf: 'HVF',
  whpx: 'WHPX',
  tcg: 'TCG (software emulation, slower)',
};

export function formatHostReport(info: HostInfo): string {
  const out: string[] = [];
  const when = info.probedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const took = info.probeMs !== undefined ? `, took ${formatMs(info.probeMs)}` : '';
  out.push(`Maru host report — probed ${when} (probe v${info.probeVersion}${took})`, '');

  section(out, 'Host', [
    ['OS', `${info.platform}${info.osRelease ? ` ${info.osRelease}` : ''} (${info.arch})`],
    ['CPU', `${info.cpuModel}, ${info.cores} core${info.cores === 1 ? '' : 's'}`],
    ['Memory', `${formatBytes(info.totalMemoryBytes)} total, ${formatBytes(info.freeMemoryBytes)} free`],
  ]);

  const qemuRows: [string, string][] = info.qemu.binaries.map((b) => [b.name, tool(b.version, b.path)]);
  if (info.qemu.binaries.length === 0) qemuRows.push(['qemu-system-x86_64', 'not found']);
  qemuRows.push(['qemu-img', info.qemu.img ? tool(info.qemu.img.version, info.qemu.img.path) : 'not found']);
  qemuRows.push([
    'Version check',
    info.qemu.versionOk ? 'ok (qemu-system-x86_64 ≥ 6.2)' : 'failed: Maru needs qemu-system-x86_64 ≥ 6.2',
  ]);
  section(out, 'QEMU', qemuRows);

  const { ovmf, ovmfSecureBoot, seabios } = info.firmware;
  section(out, 'Firmware', [
    ['OVMF (UEFI)', ovmf ? `${ovmf.code}\n${ovmf.vars}` : 'not found'],
    ['OVMF Secure Boot', ovmfSecureBoot ? `${ovmfSecureBoot.code}\n${ovmfSecureBoot.vars}` : 'not found'],
    ['SeaBIOS', seabios ? seabios.bios : 'not found'],
    ['VGA BIOS', seabios?.vgabios ?? 'not found'],
  ]);

  section(out, 'TPM', [['swtpm', info.swtpm ? tool(info.swtpm.version, info.swtpm.path) : 'not found']]);

  const storage = info.dataFolder.storage === 'unknown' ? 'unknown kind' : info.dataFolder.storage.toUpperCase();
  section(out, 'Storage', [
    ['Data folder', info.dataFolder.path],
    [
      'Disk',
      `${info.dataFolder.device ?? 'unknown device'}: ${storage}${info.dataFolder.note ? ` (${info.dataFolder.note})` : ''}`,
    ],
  ]);

  out.push('Accelerators');
  out.push(...indent(accelTable(info.accelerators)));
  for (const v of info.accelerators) {
    if (v.smmReason) out.push(`  ${v.name} SMM: ${v.smmReason}`);
  }
  out.push('');

  section(out, 'Chosen accelerator', [
    ['VMs', chosenLine(info.accelerator, info.accelerators)],
    [
      'Secure Boot VMs',
      info.secureBootAccelerator
        ? ACCEL_LABEL[info.secureBootAccelerator]
        : 'none (no accelerator passed the SMM test)',
    ],
  ]);

  out.push('Findings');
  if (info.findings.length === 0) out.push('  none');
  for (const f of sortFindings(info.findings)) out.push(...findingLines(f));
  return out.join('\n') + '\n';
}

function section(out: string[], title: string, rows: readonly (readonly [string, string])[]): void {
  out.push(title);
  for (const [label, value] of rows) {
    const [first = '', ...rest] = value.split('\n');
    out.push(`  ${label.padEnd(LABEL_WIDTH)}${first}`);
    for (const line of rest) out.push(`  ${''.padEnd(LABEL_WIDTH)}${line}`);
  }
  out.push('');
}

function tool(version: string | null, file: string): string {
  return `${(version ?? '?').padEnd(8)}  ${file}`;
}

/** The accelerator table: one row per candidate; the reason column is last and unpadded. */
export function accelTable(verdicts: readonly AcceleratorVerdict[]): string[] {
  const headers = ['name', 'present', 'usable', 'smm', 'cpu', 'time', 'reason'];
  const rows = verdicts.map((v) => [
    v.name,
    yesNo(v.present),
    yesNo(v.usable),
    v.smm === null ? '?' : yesNo(v.smm),
    v.cpuModel ?? '-',
    formatMs(v.probeMs),
    v.reason,
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

function chosenLine(chosen: AcceleratorName | null, verdicts: readonly AcceleratorVerdict[]): string {
  if (!chosen) return 'none: the QEMU engine is unavailable, Maru uses its embedded v86 engine';
  const passedOver = verdicts.filter((v) => v.name !== 'tcg' && v.name !== chosen);
  const why = passedOver
    .map((v) =>
      v.present
        ? `${v.name.toUpperCase()} is present but cannot run guests`
        : `${v.name.toUpperCase()} is not available`,
    )
    .join('; ');
  return `${ACCEL_LABEL[chosen]}${chosen === 'tcg' && why ? ` — ${why}` : ''}`;
}

const LEVEL_ORDER: Record<HostFinding['level'], number> = { error: 0, warning: 1, info: 2, ok: 3 };

function sortFindings(findings: readonly HostFinding[]): HostFinding[] {
  return [...findings].sort((a, b) => LEVEL_ORDER[a.level] - LEVEL_ORDER[b.level]);
}

function findingLines(f: HostFinding): string[] {
  const tag = f.level.padEnd(8);
  const lines = wrap(f.message, WRAP_WIDTH - 12).map((l, i) => `  ${i === 0 ? tag : ''.padEnd(8)}  ${l}`);
  if (f.fix) lines.push(...wrap(`Fix: ${f.fix}`, WRAP_WIDTH - 12).map((l) => `  ${''.padEnd(8)}  ${l}`));
  return lines;
}

/** Greedy word wrap; a word longer than the width stays whole on its own line. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    if (current && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else {
      current = current ? `${current} ${word}` : word;
    }
  }
  if (current) lines.push(current);
  return lines.length ? lines : [''];
}

function indent(lines: readonly string[]): string[] {
  return lines.map((l) => `  ${l}`);
}

function yesNo(v: boolean): string {
  return v ? 'yes' : 'no';
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
