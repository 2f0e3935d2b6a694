// From what a medium holds (labels, well-known files, boot entries) to an OS preset, with the
// reasons a person can check. Pure: detect-iso.ts gathers the facts, this decides.
import type { PresetId } from '../../../src-shared/os-presets';
import type { IsoDetection, IsoReason, IsoReasonCode } from '../../../src-shared/contracts/media';
import type { WimInfo } from './wim-info';

export interface IsoFacts {
  readonly labels: IsoDetection['labels'];
  /** El Torito entries, or null without a boot record. */
  readonly boot: { readonly bios: boolean; readonly uefi: boolean } | null;
  /** Lower-case names in the root folder (folders end with "/"). */
  readonly root: ReadonlySet<string>;
  /** Paths (lower-case, folders end with "/") found among the well-known ones probed. */
  readonly found: ReadonlySet<string>;
  /** `sources/install.wim|esd|swm` or `sources/boot.wim`, as found. */
  readonly windowsImage: string | null;
  readonly wim: WimInfo | null;
  /** `sources/idwbinfo.txt`: BuildBranch and BuildArch. */
  readonly buildBranch: string | null;
  readonly buildArch: string | null;
  /** First line of `.disk/info`. */
  readonly diskInfo: string | null;
}

export interface Classification {
  readonly preset: PresetId;
  readonly confidence: IsoDetection['confidence'];
  readonly osName: string | null;
  readonly reasons: IsoReason[];
}

function reason(code: IsoReasonCode, text: string, params: Record<string, string> = {}): IsoReason {
  return { code, text, params };
}

type Verdict = { preset: PresetId; confidence: IsoDetection['confidence']; osName: string | null };

/** Windows NT 6+ by build number (from the image's own XML). */
function windowsByBuild(build: number): Verdict | null {
  if (build >= 22000) return { preset: 'windows11', confidence: 'high', osName: null };
  if (build >= 10240) return { preset: 'windows10', confidence: 'high', osName: null };
  if (build >= 9200) return { preset: 'windows10', confidence: 'medium', osName: null }; // 8 / 8.1
  if (build >= 7600) return { preset: 'windows7', confidence: 'high', osName: null };
  if (build >= 6000) return { preset: 'windows7', confidence: 'medium', osName: null }; // Vista
  return null;
}

/** Windows by idwbinfo.txt's BuildBranch (e.g. ni_release = Windows 11 22H2/23H2). */
export function windowsByBranch(branch: string): PresetId | null {
  const b = branch.toLowerCase();
  if (/^(co|ni|zn|ge|br|dt)_/.test(b)) return 'windows11';
  if (/^(th\d|rs\d|rs_|19h\d|20h\d|21h\d|vb|mn|fe)_?/.test(b)) return 'windows10';
  if (/^(win8|winblue)/.test(b)) return 'windows10';
  if (/^win7/.test(b)) return 'windows7';
  if (/^(vista|longhorn|lh_)/.test(b)) return 'windows7';
  return null;
}

/** Windows by volume label; media labels name the product only loosely. */
export function windowsByLabel(label: string): { preset: PresetId; confidence: IsoDetection['confidence'] } | null {
  const l = label.toUpperCase();
  if (/WIN(DOWS)?[ _-]?11/.test(l)) return { preset: 'windows11', confidence: 'medium' };
  if (/WIN(DOWS)?[ _-]?10/.test(l)) return { preset: 'windows10', confidence: 'medium' };
  if (/WIN(DOWS)?[ _-]?7\b/.test(l) || /^(GRMC|GSP1RM|GRMS)/.test(l))
    return { preset: 'windows7', confidence: 'medium' };
  // Consumer/business media of Windows 10 and 11 share these labels: the Windows 11 preset fits both.
  if (/^(CCCOMA|CCSA|CPBA|CENA|CPRA|CSSA|SSS_|J_CCSA|ESD-ISO)/.test(l))
    return { preset: 'windows11', confidence: 'low' };
  return null;
}

function archOf(text: string): 'x86_64' | 'i386' | null {
  if (/\b(amd64|x86_64|x86-64|x64|64-?bit)\b/i.test(text)) return 'x86_64';
  if (/\b(i[3-6]86|x86|ia32|32-?bit)\b/i.test(text)) return 'i386';
  return null;
}

const LINUX_LAYOUT = ['casper/', 'live/', 'isolinux/', 'syslinux/', 'boot/grub/', 'arch/', 'images/pxeboot/'];

export function classifyIso(f: IsoFacts): Classification {
  const reasons: IsoReason[] = [];
  const label = f.labels.udf ?? f.labels.joliet ?? f.labels.iso9660 ?? '';
  let v: Verdict | null = null;

  if (f.windowsImage) {
    const file = f.windowsImage;
    if (f.wim?.build) {
      v = windowsByBuild(f.wim.build);
      const name = f.wim.names[0] ?? null;
      if (v) v = { ...v, osName: name };
      reasons.push(
        reason('windows-image-info', `${file} describes ${name ?? 'Windows'} (build ${f.wim.build}).`, {
          file,
          name: name ?? 'Windows',
          build: String(f.wim.build),
        }),
      );
    }
    if (!v && f.buildBranch) {
      const preset = windowsByBranch(f.buildBranch);
      if (preset) {
        v = { preset, confidence: 'high', osName: null };
        reasons.push(
          reason('windows-build-branch', `sources/idwbinfo.txt names build branch ${f.buildBranch}.`, {
            branch: f.buildBranch,
          }),
        );
      }
    }
    if (!v && label) {
      const byLabel = windowsByLabel(label);
      if (byLabel) {
        v = { ...byLabel, osName: null };
        reasons.push(reason('windows-label', `The volume label "${label}" is a Windows media label.`, { label }));
      }
    }
    if (!v) {
      v = { preset: 'windows11', confidence: 'low', osName: null };
    }
    reasons.unshift(
      reason('windows-installer', `${file} is a Windows installer image.`, {
        file,
      }),
    );
  } else if (
    f.root.has('i386/') &&
    (['win51', 'win51ip', 'win51ic', 'win51ap', 'win51is'].some((n) => f.root.has(n)) ||
      f.found.has('i386/txtsetup.sif'))
  ) {
    v = {
      preset: 'windowsxp',
      confidence: f.root.has('win51') || f.root.has('win51ip') ? 'high' : 'medium',
      osName: null,
    };
    reasons.push(reason('windows-xp', 'An I386 folder with Windows NT 5 setup files (Windows XP / 2000).'));
  } else if (f.root.has('win98/') || f.root.has('win95/') || f.root.has('win9x/') || /WIN ?(98|95|ME)\b/i.test(label)) {
    v = { preset: 'windows98', confidence: f.root.has('win98/') ? 'high' : 'medium', osName: null };
    reasons.push(reason('windows-9x', 'A WIN98 / WIN95 setup folder or label (Windows 9x).'));
  } else if (
    f.root.has('freedos/') ||
    f.root.has('fdsetup/') ||
    f.root.has('fdsetup.bat') ||
    /^FD\d|FREEDOS/i.test(label)
  ) {
    v = { preset: 'dos', confidence: 'high', osName: 'FreeDOS' };
    reasons.push(reason('dos', 'FreeDOS setup files (FREEDOS / FDSETUP) or a FreeDOS label.'));
  } else if (
    f.root.has('command.com') &&
    (f.root.has('io.sys') || f.root.has('msdos.sys') || f.root.has('kernel.sys'))
  ) {
    v = { preset: 'dos', confidence: 'medium', osName: 'DOS' };
    reasons.push(reason('dos', 'COMMAND.COM with a DOS kernel (IO.SYS / MSDOS.SYS / KERNEL.SYS) in the root.'));
  } else {
    const layout = LINUX_LAYOUT.filter((d) => f.found.has(d));
    if (f.diskInfo || layout.length > 0) {
      const efi64 = f.found.has('efi/boot/bootx64.efi');
      const efi32 = f.found.has('efi/boot/bootia32.efi');
      let arch = f.diskInfo ? archOf(f.diskInfo) : null;
      let archWhy = arch ? '.disk/info' : '';
      if (!arch && archOf(label)) {
        arch = archOf(label);
        archWhy = 'the volume label';
      }
      if (!arch && (efi64 || efi32)) {
        arch = efi64 ? 'x86_64' : 'i386';
        archWhy = efi64 ? 'EFI/BOOT/BOOTX64.EFI' : 'EFI/BOOT/BOOTIA32.EFI';
      }
      if (f.diskInfo) {
        reasons.push(reason('linux-disk-info', `.disk/info says "${f.diskInfo}".`, { info: f.diskInfo }));
      }
      if (layout.length > 0) {
        const dirs = layout.join(', ');
        reasons.push(reason('linux-layout', `Linux boot folders: ${dirs}.`, { dirs }));
      }
      if (arch) {
        reasons.push(
          reason('arch', `${arch === 'x86_64' ? '64-bit' : '32-bit'} x86, from ${archWhy}.`, { arch, source: archWhy }),
        );
      }
      const confidence = f.diskInfo ? (arch ? 'high' : 'medium') : arch ? 'medium' : 'low';
      v = { preset: arch === 'i386' ? 'linux32' : 'linux64', confidence, osName: f.diskInfo };
    }
  }
  if (!v) {
    v = { preset: 'other', confidence: 'low', osName: null };
    reasons.push(reason('unknown', 'No well-known installer files or labels: choose the OS yourself.'));
  }
  if (f.boot?.bios) reasons.push(reason('boot-bios', 'El Torito BIOS boot entry.'));
  if (f.boot?.uefi) reasons.push(reason('boot-uefi', 'El Torito UEFI boot entry (platform 0xEF).'));
  if (!f.boot || (!f.boot.bios && !f.boot.uefi)) {
    reasons.push(reason('no-boot', 'No El Torito boot entry: the medium does not boot by itself.'));
  }
  return { ...v, reasons };
}
