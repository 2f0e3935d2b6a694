#!/usr/bin/env bash
# Builds the v86 engine's test media into tests/fixtures/build/ (after scripts/build-fixtures.sh,
# whose unpacked Debian i386 kernel, busybox and ISOLINUX parts it reuses):
#
#   maru-v86-install.iso   a tiny OS that installs itself onto the first hard disk: it writes
#                          SYSLINUX's MBR and a partition table, copies a FAT partition holding
#                          SYSLINUX + the kernel + its initramfs, and a random token. Booted from
#                          the disk (CD ejected) it reports the token and switches to a 1024×768
#                          VESA framebuffer console. Serial markers (ttyS0):
#                            CD:   MARU-BOOT-OK, MARU-MODE=cd, MARU-INSTALL-OK token=T, MARU-READY
#                            disk: MARU-BOOT-OK, MARU-MODE=disk, MARU-DISK-TOKEN=T, MARU-FB=WxH, MARU-READY
#                          both: MARU-KEY:<line> for each line typed on the keyboard (tty1),
#                          MARU-ECHO:<line> for each line sent to the serial port ("mark=X"
#                          keeps X in RAM, "mark?" prints MARU-MARK=X: snapshot tests).
#   storm-640x480.img      /work/shared/fixtures/storm (nasm): 1.44 MB floppies that redraw the
#   storm-1024x768.img     whole 32-bpp linear screen forever and print each frame number on COM1.
#
#   scripts/build-v86-fixtures.sh [--force]
#
# Host tools (Debian packages): syslinux (its mtools-based installer), mtools, dosfstools,
# xorriso, cpio, gzip, nasm. MARU_FIXTURES_OUT overrides the output folder, MARU_STORM_DIR the
# storm sources (default: tests/fixtures/storm, a copy of the team's shared fixture).
set -euo pipefail
export LC_ALL=C

FORCE=0
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-v86-fixtures: unknown option $a (try --help)" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF="$ROOT/scripts/build-v86-fixtures.sh"
OUT=${MARU_FIXTURES_OUT:-$ROOT/tests/fixtures/build}
PARTS=$OUT/parts
STORM_DIR=${MARU_STORM_DIR:-$ROOT/tests/fixtures/storm}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export PATH="$PATH:/usr/sbin:/sbin"
export MTOOLS_SKIP_CHECK=1

log() { printf 'build-v86-fixtures: %s\n' "$*"; }
die() { printf 'build-v86-fixtures: error: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found; install Debian package '$2'"; }
need syslinux syslinux; need mcopy mtools; need mkfs.fat dosfstools; need xorriso xorriso
need cpio cpio; need gzip gzip

KERNEL=$PARTS/kernel-i386
BUSYBOX=$PARTS/busybox-i386/bin/busybox
ISOLINUX_BIN=$PARTS/isolinux/usr/lib/ISOLINUX/isolinux.bin
LDLINUX=$PARTS/syslinux/usr/lib/syslinux/modules/bios/ldlinux.c32
MBR=$PARTS/syslinux/usr/lib/syslinux/mbr/mbr.bin
for f in "$KERNEL/vmlinuz" "$KERNEL/storage.order" "$BUSYBOX" "$ISOLINUX_BIN" "$LDLINUX" "$MBR"; do
  [ -s "$f" ] || die "$f is missing: run scripts/build-fixtures.sh first (it unpacks the Debian packages used here)"
done

TMP=$(mktemp -d "$OUT/.v86tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# stale TARGET DEPS...: true when TARGET is missing, --force is on, or a dependency is newer.
stale() {
  local t=$1 d; shift
  [ -e "$t" ] || return 0
  [ "$FORCE" = 1 ] && return 0
  for d in "$@"; do [ "$d" -nt "$t" ] && return 0; done
  return 1
}

# Partition 1 starts at LBA 2048 (1 MiB) and is 24 MiB; the token lives in LBA 2047.
PART_START=2048
PART_SECTORS=49152
TOKEN_LBA=2047

ISO=$OUT/maru-v86-install.iso
if stale "$ISO" "$SELF" "$KERNEL/.done" "$PARTS/busybox-i386/.done" "$PARTS/isolinux/.done" "$PARTS/syslinux/.done"; then
  # The partition table entry as octal escapes for the guest's printf: active, type 0x0e
  # (FAT16 LBA), CHS fields saturated (LBA is what counts), start, size (little-endian).
  PART_ENTRY=$(printf '\\%03o' 0x80 0xfe 0xff 0xff 0x0e 0xfe 0xff 0xff \
    $((PART_START & 255)) $((PART_START >> 8 & 255)) $((PART_START >> 16 & 255)) 0 \
    $((PART_SECTORS & 255)) $((PART_SECTORS >> 8 & 255)) $((PART_SECTORS >> 16 & 255)) 0)
  # ---- initramfs: busybox, the storage modules, and the installer/disk /init
  r=$TMP/initramfs
  mkdir -p "$r"/{bin,dev,etc,lib/modules,mnt,proc,sys,tmp,cdrom}
  cp "$BUSYBOX" "$r/bin/busybox"; ln -s busybox "$r/bin/sh"
  while read -r m; do [ -n "$m" ] && cp "$KERNEL/modules/$m.ko" "$r/lib/modules/"; done < "$KERNEL/storage.order"
  cp "$KERNEL/storage.order" "$r/lib/modules/"
  cat > "$r/init" <<INIT
#!/bin/sh
# Maru v86 test OS: installs itself from the CD onto /dev/sda, or runs from the disk.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null
ser() { echo "\$*" 2>/dev/null > /dev/ttyS0; }
say() { ser "\$*"; echo "\$*" 2>/dev/null > /dev/tty0; }
stty -F /dev/ttyS0 -echo 2>/dev/null
mode=cd
case " \$(cat /proc/cmdline) " in *" maru.mode=disk "*) mode=disk ;; esac
say MARU-BOOT-OK
say "MARU-MODE=\$mode"
while read -r m; do [ -n "\$m" ] && insmod "/lib/modules/\$m.ko" 2>/dev/null; done < /lib/modules/storage.order
i=0; while [ ! -b /dev/sda ] && [ \$i -lt 60 ]; do usleep 250000; i=\$((i + 1)); done
cr=\$(printf '\r')
( while IFS= read -r l; do l=\${l%"\$cr"}; case "\$l" in
    "") ;;
    "mark?") ser "MARU-MARK=\$(cat /mark 2>/dev/null)" ;;
    mark=*) echo "\${l#mark=}" > /mark; ser "MARU-ECHO:\$l" ;;
    *) ser "MARU-ECHO:\$l" ;;
  esac; done < /dev/ttyS0 ) 2>/dev/null &
( while IFS= read -r l; do ser "MARU-KEY:\$l"; done < /dev/tty1 ) 2>/dev/null &
if [ "\$mode" = cd ]; then
  if [ ! -b /dev/sda ]; then say "MARU-INSTALL-FAILED no /dev/sda"; else
    i=0; while [ ! -b /dev/sr0 ] && [ \$i -lt 40 ]; do usleep 250000; i=\$((i + 1)); done
    mount -t iso9660 -o ro /dev/sr0 /cdrom || say "MARU-INSTALL-FAILED cannot mount the CD"
    token=\$(cat /proc/sys/kernel/random/uuid)
    # MBR boot code, one active FAT16 (LBA) partition: LBA $PART_START, $PART_SECTORS sectors.
    dd if=/cdrom/maru/mbr.bin of=/dev/sda bs=440 count=1 conv=notrunc 2>/dev/null
    printf '$PART_ENTRY' |
      dd of=/dev/sda bs=1 seek=446 conv=notrunc 2>/dev/null
    printf '\\125\\252' | dd of=/dev/sda bs=1 seek=510 conv=notrunc 2>/dev/null
    zcat /cdrom/maru/part.img.gz | dd of=/dev/sda bs=65536 seek=$((PART_START / 128)) conv=notrunc 2>/dev/null
    echo "MARU-TOKEN=\$token" | dd of=/dev/sda bs=512 seek=$TOKEN_LBA conv=sync,notrunc 2>/dev/null
    sync
    umount /cdrom
    if [ "\$(dd if=/dev/sda bs=512 skip=$TOKEN_LBA count=1 2>/dev/null | head -n 1)" = "MARU-TOKEN=\$token" ]; then
      say "MARU-INSTALL-OK token=\$token"
    else
      say "MARU-INSTALL-FAILED the token did not read back"
    fi
  fi
else
  say "MARU-DISK-TOKEN=\$(dd if=/dev/sda bs=512 skip=$TOKEN_LBA count=1 2>/dev/null | head -n 1 | sed 's/^MARU-TOKEN=//')"
  [ -r /sys/class/graphics/fb0/virtual_size ] && say "MARU-FB=\$(tr , x < /sys/class/graphics/fb0/virtual_size)"
fi
say MARU-READY
while :; do sleep 3600; done
INIT
  chmod 755 "$r/init" "$r/bin/busybox"
  find "$r" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  (cd "$r" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n > "$TMP/initrd.gz"

  # ---- the FAT partition: SYSLINUX, kernel, initramfs; framebuffer console at 1024×768×32
  part=$TMP/part.img
  mkfs.fat -C -F 16 -h $PART_START -n MARU_DISK -i 4d415244 "$part" $((PART_SECTORS / 2)) > /dev/null
  cat > "$TMP/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT maru
PROMPT 0
TIMEOUT 0
LABEL maru
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND console=ttyS0,115200n8 console=tty0 quiet maru.mode=disk vga=0x318
EOF
  mcopy -i "$part" -m "$KERNEL/vmlinuz" "$TMP/initrd.gz" "$TMP/syslinux.cfg" ::/
  syslinux --install "$part"
  mdir -a -i "$part" ::/ | grep -qi "ldlinux *sys" || die "syslinux did not install onto the partition image"

  # ---- the ISO: ISOLINUX boots the same kernel + initramfs in CD mode
  t=$TMP/iso
  mkdir -p "$t/boot" "$t/isolinux" "$t/maru" "$t/.disk"
  cp "$KERNEL/vmlinuz" "$t/boot/vmlinuz"; cp "$TMP/initrd.gz" "$t/boot/initrd.gz"
  cp "$ISOLINUX_BIN" "$LDLINUX" "$t/isolinux/"
  cat > "$t/isolinux/isolinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT maru
PROMPT 0
TIMEOUT 0
LABEL maru
  KERNEL /boot/vmlinuz
  INITRD /boot/initrd.gz
  APPEND console=ttyS0,115200n8 console=tty0 quiet maru.mode=cd
EOF
  cp "$MBR" "$t/maru/mbr.bin"
  gzip -9 -n -c "$part" > "$t/maru/part.img.gz"
  echo "Maru v86 install test medium (i386, linux $(cat "$KERNEL/version"))" > "$t/.disk/info"
  find "$t" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  xorriso -as mkisofs -quiet -o "$TMP/out.iso" -V MARU_V86_INSTALL -R -J "$t" \
    -c isolinux/boot.cat -b isolinux/isolinux.bin -no-emul-boot -boot-load-size 4 -boot-info-table \
    > "$TMP/xorriso.log" 2>&1 || { cat "$TMP/xorriso.log" >&2; die "xorriso failed"; }
  mv "$TMP/out.iso" "$ISO"
  log "built $(basename "$ISO") ($(du -h "$ISO" | cut -f1))"
fi

# ---- storm: the display benchmark / graphics-mode guest
if [ -r "$STORM_DIR/storm.asm" ]; then
  need nasm nasm
  for m in 640x480 1024x768; do
    img=$OUT/storm-$m.img
    if stale "$img" "$SELF" "$STORM_DIR/storm.asm"; then
      nasm -f bin -DXRES="${m%x*}" -DYRES="${m#*x}" -o "$TMP/storm.bin" "$STORM_DIR/storm.asm"
      truncate -s 1474560 "$TMP/storm.bin"
      mv "$TMP/storm.bin" "$img"
      log "built $(basename "$img")"
    fi
  done
else
  log "warning: $STORM_DIR/storm.asm not found (set MARU_STORM_DIR): storm floppies not built"
fi
log "done"
