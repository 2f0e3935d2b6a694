// Turns the probe's facts into findings for people: what happened, why, and what to do —
// for the host check page and `maru host`.
import type { AcceleratorVerdict, HostFinding, HostInfo } from '../../../src-shared/host-info';
import { MIN_QEMU_VERSION } from './tool-discovery';

export type HostFacts = Omit<HostInfo, 'findings'>;

const INSTALL_QEMU =
  'Install QEMU: `sudo apt install qemu-system-x86 qemu-utils` (Debian/Ubuntu), `sudo dnf install qemu-system-x86 qemu-img` (Fedora), `brew install qemu` (macOS), or the installer from qemu.org into C:\\Program Files\\qemu (Windows).';

export function buildHostFindings(facts: HostFacts): HostFinding[] {
  const findings: HostFinding[] = [];
  const add = (f: HostFinding): void => {
    findings.push(f);
  };
  const x86 = facts.qemu.binaries.find((b) => b.name === 'qemu-system-x86_64');
  const anyQemu = facts.qemu.binaries[0];

  // QEMU itself.
  if (!anyQemu) {
    add({
      id: 'qemu-missing',
      level: 'warning',
      message:
        'QEMU not found (no qemu-system-x86_64 or qemu-system-i386 on PATH or in the usual install folders): Maru will use its embedded v86 engine (32-bit guests only: no UEFI, no TPM, one CPU).',
      fix: INSTALL_QEMU,
    });
  } else if (!facts.qemu.versionOk) {
    const found = x86
      ? `QEMU ${x86.version ?? '(unknown version)'} found (${x86.path})`
      : 'Only qemu-system-i386 found';
    add({
      id: 'qemu-too-old',
      level: 'error',
      message: `${found}, Maru needs qemu-system-x86_64 ≥ ${MIN_QEMU_VERSION} (working internal snapshots): Maru will use its embedded v86 engine (32-bit guests only).`,
      fix: `Update QEMU to ${MIN_QEMU_VERSION} or newer. ${INSTALL_QEMU}`,
    });
  } else {
    add({ id: 'qemu-ok', level: 'ok', message: `QEMU ${x86?.version ?? ''} found (${x86?.path ?? ''}).` });
  }
  if (anyQemu && !facts.qemu.img) {
    add({
      id: 'qemu-img-missing',
      level: 'warning',
      message: 'qemu-img not found: Maru cannot create or convert qcow2 disks for the QEMU engine.',
      fix: 'Install qemu-utils (Debian/Ubuntu) or qemu-img (Fedora); Homebrew and Windows QEMU include it.',
    });
  }

  // Accelerators.
  const hardware = facts.accelerators.find((v) => v.name !== 'tcg');
  const tcg = facts.accelerators.find((v) => v.name === 'tcg');
  if (facts.arch !== 'x64' && facts.arch !== 'ia32') {
    add({
      id: 'arm-host',
      level: 'info',
      message: `This is an ${facts.arch} host: x86 guests run under software emulation (TCG) only, which is much slower than on an x86 host.`,
      fix: 'Expect slow guests; prefer light 32-bit guests or run heavy ones on an x86 machine.',
    });
  } else if (hardware && facts.qemu.versionOk) {
    accelFinding(hardware, facts).forEach(add);
  }
  if (tcg && facts.qemu.versionOk && !tcg.usable) {
    add({
      id: 'tcg-unusable',
      level: 'error',
      message: `QEMU could not run the test guest even under software emulation (${tcg.reason}): the QEMU engine is unavailable.`,
      fix: 'Reinstall QEMU; run `maru host --refresh` afterwards.',
    });
  }
  if (facts.accelerator && !facts.secureBootAccelerator) {
    add({
      id: 'smm-unavailable',
      level: 'warning',
      message: 'No accelerator passed the SMM test (q35 with smm=on): Secure Boot VMs (Windows 11) cannot run.',
      fix: 'Check `maru host --json` for each accelerator’s smmReason; updating QEMU usually helps.',
    });
  } else if (facts.accelerator && facts.secureBootAccelerator !== facts.accelerator) {
    add({
      id: 'smm-fallback',
      level: 'info',
      message: `${facts.accelerator.toUpperCase()} cannot run with SMM on: Secure Boot VMs run under ${String(facts.secureBootAccelerator).toUpperCase()}, which is slower.`,
    });
  }

  // Firmware and TPM.
  if (!facts.firmware.ovmf) {
    add({
      id: 'ovmf-missing',
      level: 'warning',
      message: 'No OVMF found: UEFI guests cannot run (BIOS guests still can).',
      fix: 'Install ovmf (Debian/Ubuntu) or edk2-ovmf (Fedora); Homebrew and Windows QEMU ship edk2 firmware.',
    });
  }
  if (!facts.firmware.ovmfSecureBoot) {
    add({
      id: 'ovmf-secure-boot-missing',
      level: 'warning',
      message:
        'No Secure Boot OVMF found (OVMF_CODE_4M.ms.fd + OVMF_VARS_4M.ms.fd): Windows 11 and other Secure Boot guests cannot run.',
      fix: 'Install ovmf (Debian/Ubuntu: it ships the .ms.fd pair) or edk2-ovmf (Fedora).',
    });
  }
  if (!facts.firmware.seabios) {
    add({
      id: 'seabios-missing',
      level: 'warning',
      message: 'No SeaBIOS found on the host (bios-256k.bin): BIOS guests rely on firmware bundled with Maru.',
      fix: 'Install seabios (Debian/Ubuntu/Fedora); QEMU from Homebrew or the Windows installer ships it.',
    });
  }
  if (!facts.swtpm) {
    const windows = facts.platform === 'win32';
    add({
      id: 'swtpm-missing',
      level: windows ? 'info' : 'warning',
      message: windows
        ? 'No TPM emulation: QEMU on Windows hosts has no swtpm, so VMs get no TPM 2.0 (Windows 11 needs one).'
        : 'No swtpm: VMs cannot have a TPM 2.0 (Windows 11 needs it).',
      ...(windows
        ? {}
        : { fix: 'Install swtpm (`sudo apt install swtpm`, `sudo dnf install swtpm`, `brew install swtpm`).' }),
    });
  }

  // Storage.
  if (facts.dataFolder.storage === 'hdd') {
    add({
      id: 'storage-hdd',
      level: 'warning',
      message: `VM folder on an HDD (${facts.dataFolder.path} on ${facts.dataFolder.device ?? 'a rotational disk'}): guests will boot and install slowly.`,
      fix: 'VM disks belong on an SSD: point MARU_HOME at a folder on an SSD.',
    });
  }
  return findings;
}

function accelFinding(v: AcceleratorVerdict, facts: HostFacts): HostFinding[] {
  const label = v.name.toUpperCase();
  const fallback = facts.accelerator === 'tcg' ? ': running with software emulation (TCG), which is slower.' : '.';
  if (v.usable) {
    const out: HostFinding[] = [
      {
        id: `${v.name}-ok`,
        level: 'ok',
        message: `${label} runs guests (test guest booted with -cpu ${v.cpuModel ?? '?'}).`,
      },
    ];
    const first = v.attempts?.[0];
    if (first && first.cpuModel !== v.cpuModel) {
      out.push({
        id: `${v.name}-cpu-fallback`,
        level: 'info',
        message: `-cpu ${first.cpuModel} failed on this host (${first.detail ?? first.outcome}): Maru uses -cpu ${v.cpuModel ?? '?'} instead.`,
      });
    }
    return out;
  }
  if (!v.present) {
    if (v.name === 'kvm' && /cannot open it/.test(v.reason)) {
      return [
        {
          id: 'kvm-no-access',
          level: 'warning',
          message: `${v.reason}${fallback}`,
          fix: 'Add yourself to the kvm group (`sudo usermod -aG kvm $USER`), log out and back in, then run `maru host --refresh`.',
        },
      ];
    }
    const fix: Record<string, string> = {
      kvm: 'Enable virtualization (VT-x / AMD-V) in the firmware settings and load kvm_intel or kvm_amd; in a VM, enable nested virtualization.',
      hvf: 'Hypervisor.framework needs a Mac with hardware virtualization (not available inside most VMs).',
      whpx: 'Enable "Windows Hypervisor Platform" in Windows Features and reboot.',
    };
    return [{ id: `${v.name}-absent`, level: 'info', message: `${v.reason}${fallback}`, fix: fix[v.name] ?? '' }];
  }
  const died = v.reason.replace(new RegExp(`^${label} present but cannot run guests: `), '');
  return [
    {
      id: `${v.name}-unusable`,
      level: 'warning',
      message: `${label} present but cannot run guests (${died})${fallback}`,
      fix:
        v.name === 'kvm'
          ? 'Nothing to do for Maru to work. For speed, run Maru on a host whose KVM runs full guests (this KVM may be a nested or paravirtual one), then run `maru host --refresh`.'
          : `Nothing to do for Maru to work; for speed, fix ${label} and run \`maru host --refresh\`.`,
    },
  ];
}
