#!/usr/bin/env bash
# Builds Maru's test boot media from Debian packages into tests/fixtures/build/.
# See tests/fixtures/README.md for what each medium is and what it prints.
#
#   scripts/build-fixtures.sh            build what is missing or out of date
#   scripts/build-fixtures.sh --force    rebuild every medium (reuses downloaded .debs)
#   scripts/build-fixtures.sh --refresh  also re-resolve and re-download the Debian packages
#   scripts/build-fixtures.sh --verify   after building, boot each medium under QEMU (TCG)
#                                        and report the seconds to each marker
#
# No root needed: packages are fetched with `apt-get download` against a private apt state
# (tests/fixtures/build/debs/apt/, amd64 + i386 lists, the host's apt is left alone) and
# unpacked with `dpkg-deb`; nothing is installed.
# Host tools: apt, dpkg, debian-archive-keyring, xorriso, mtools, dosfstools, cpio, gzip;
# --verify also needs qemu-system-x86, ovmf, swtpm.
#
# Environment: MARU_DEBIAN_SUITE (bookworm), MARU_DEBIAN_MIRROR (http://deb.debian.org/debian),
# MARU_DEBIAN_SECURITY_MIRROR (http://deb.debian.org/debian-security; "none" to skip),
# MARU_DEBIAN_KEYRING (/usr/share/keyrings/debian-archive-keyring.gpg), MARU_FIXTURES_OUT.
set -euo pipefail
export LC_ALL=C

FORCE=0 REFRESH=0 VERIFY=0
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    --refresh) REFRESH=1 FORCE=1 ;;
    --verify) VERIFY=1 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-fixtures: unknown option $a (try --help)" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF="$ROOT/scripts/build-fixtures.sh"
OUT=${MARU_FIXTURES_OUT:-$ROOT/tests/fixtures/build}
DEBS=$OUT/debs
PARTS=$OUT/parts
SUITE=${MARU_DEBIAN_SUITE:-bookworm}
MIRROR=${MARU_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${MARU_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=${MARU_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

# Modules copied into the initramfs (with their dependencies, from the .ko files' own
# "depends=" lists, as the .deb ships no modules.dep). TPM (tpm_crb, tpm_tis), the 8250
# serial port, the i8042 keyboard and the framebuffer console are built into Debian's kernel.
EARLY_MODULES="efivarfs button evdev"
# floppy: the PC floppy controller's drives (fd0, fd1) for Maru's floppy drives (QEMU and v86).
STORAGE_MODULES="ata_piix ata_generic ahci sr_mod sd_mod isofs virtio_pci virtio_blk virtio_scsi nvme floppy"
# QEMU's usb-tablet (the absolute pointer Maru gives QEMU VMs): on xHCI (q35) or UHCI (pc), USB HID.
POINTER_MODULES="xhci_pci uhci_hcd usbhid hid_generic psmouse"
# Network adapters Maru offers (e1000e, e1000, rtl8139, ne2k_pci, virtio-net, pcnet) and 9p
# shared folders over virtio.
NET_MODULES="e1000 e1000e 8139cp 8139too ne2k_pci virtio_net pcnet32 9p 9pnet_virtio"

T0=$(date +%s)
log() { printf 'build-fixtures: %s\n' "$*"; }
die() { printf 'build-fixtures: error: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found; install Debian package '$2'"; }

# Tools may live in /usr/sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"
need apt-get apt; need dpkg-deb dpkg; need xorriso xorriso; need mcopy mtools
need mkfs.fat dosfstools; need cpio cpio; need gzip gzip

mkdir -p "$OUT" "$DEBS" "$PARTS"
TMP=$(mktemp -d "$OUT/.tmp.XXXXXX")
VERIFY_PIDS=()   # live children of --verify (QEMU, its FIFO readers, swtpm)
cleanup() {
  local p
  for p in "${VERIFY_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${VERIFY_PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stale TARGET DEPS... : true when TARGET is missing, --force is on, or a dependency is newer.
declare -A BUILT=()
stale() {
  local t=$1 d; shift
  [ -e "$t" ] || return 0
  if [ "$FORCE" = 1 ] && [ -z "${BUILT[$t]:-}" ]; then return 0; fi
  for d in "$@"; do [ "$d" -nt "$t" ] && return 0; done
  return 1
}
built() { BUILT[$1]=1; log "built $(basename "$1") ($(du -h "$1" | cut -f1))"; }

# ---------------------------------------------------------------- Debian packages
APT_DIR=$DEBS/apt
apt_opts() {
  local o=(
    -o "Dir::State::Lists=$APT_DIR/lists"
    -o "Dir::Cache=$APT_DIR/cache"
    -o "Dir::Etc::SourceList=$APT_DIR/sources.list"
    -o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d"
    -o "Dir::State::status=/dev/null"
    -o "APT::Architectures::=amd64" -o "APT::Architectures::=i386"
    -o "Acquire::Languages=none"
    -o "Debug::NoLocking=1"
  )
  [ "$(id -u)" = 0 ] && o+=(-o "APT::Sandbox::User=root")
  printf '%s\n' "${o[@]}"
}
mapfile -t APT_OPTS < <(apt_opts)

# Logical name -> package spec. Kernel names are resolved from the meta packages.
declare -A SPEC=(
  [busybox-amd64]="busybox-static:amd64"
  [busybox-i386]="busybox-static:i386"
  [kernel-amd64]="@linux-image-amd64:amd64"
  [kernel-i386]="@linux-image-686:i386"
  [shim]="shim-signed:amd64"
  [grub-signed]="grub-efi-amd64-signed:amd64"
  [grub-bin]="grub-efi-amd64-bin:amd64"
  [isolinux]="isolinux"
  [syslinux]="syslinux-common"
)
MANIFEST=$DEBS/manifest
declare -A DEB=()

manifest_ok() {
  [ -s "$MANIFEST" ] || return 1
  local k f n=0
  while read -r k f; do
    [ -s "$DEBS/$f" ] || return 1
    DEB[$k]=$DEBS/$f; n=$((n + 1))
  done < "$MANIFEST"
  [ "$n" = "${#SPEC[@]}" ]
}

resolve_packages() {
  [ -r "$KEYRING" ] || die "$KEYRING missing: install Debian package 'debian-archive-keyring' (or set MARU_DEBIAN_KEYRING)"
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/sources.list.d"
  {
    echo "deb [arch=amd64,i386 signed-by=$KEYRING] $MIRROR $SUITE main"
    echo "deb [arch=amd64,i386 signed-by=$KEYRING] $MIRROR $SUITE-updates main"
    [ "$SECURITY" = none ] || echo "deb [arch=amd64,i386 signed-by=$KEYRING] $SECURITY $SUITE-security main"
  } > "$APT_DIR/sources.list"
  log "updating private apt lists for $SUITE (amd64, i386) from $MIRROR"
  if ! apt-get "${APT_OPTS[@]}" -q update > "$TMP/apt-update.log" 2>&1; then
    # A partial failure (e.g. a mirror mid-sync for one index) leaves the others usable.
    grep -E '^(E|W):' "$TMP/apt-update.log" | sed 's/^/  apt: /' >&2 || true
    log "warning: apt-get update reported errors; continuing with the indexes it did fetch"
  fi
  local k spec name arch dep uri file
  : > "$TMP/manifest"
  for k in "${!SPEC[@]}"; do
    spec=${SPEC[$k]}
    if [ "${spec#@}" != "$spec" ]; then   # meta package: take its linux-image-<abi>-<flavour> dependency
      spec=${spec#@}; name=${spec%%:*}; arch=${spec#*:}
      dep=$(apt-cache "${APT_OPTS[@]}" show --no-all-versions "$spec" 2>/dev/null |
            sed -n 's/^Depends: //p' | tr ',' '\n' | grep -o 'linux-image-[0-9][^ ]*' | head -n1) || true
      [ -n "$dep" ] || die "cannot resolve $spec in the $SUITE package lists (see $TMP/apt-update.log)"
      spec="$dep:$arch"
    fi
    uri=$(apt-get "${APT_OPTS[@]}" -q --print-uris download "$spec" 2>"$TMP/apt-err" | head -n1) ||
      die "apt-get cannot download '$spec': $(cat "$TMP/apt-err")"
    [ -n "$uri" ] || die "apt-get cannot download '$spec': $(cat "$TMP/apt-err")"
    file=$(printf '%s\n' "$uri" | awk '{print $2}')
    if [ ! -s "$DEBS/$file" ]; then
      log "downloading $spec ($file)"
      (cd "$DEBS" && apt-get "${APT_OPTS[@]}" -q download "$spec" > "$TMP/apt-dl.log" 2>&1) ||
        die "apt-get download $spec failed: $(tail -n 5 "$TMP/apt-dl.log")"
      [ -s "$DEBS/$file" ] || die "apt-get download $spec did not produce $file"
    fi
    echo "$k $file" >> "$TMP/manifest"
  done
  sort "$TMP/manifest" > "$MANIFEST"
  manifest_ok || die "package manifest incomplete"
  # Drop superseded downloads.
  local f
  for f in "$DEBS"/*.deb; do
    grep -qF " $(basename "$f")" "$MANIFEST" || rm -f "$f"
  done
}

if [ "$REFRESH" = 1 ] || ! manifest_ok; then
  resolve_packages
else
  log "using cached Debian packages (--refresh to update)"
fi
sed 's/^/  /' "$MANIFEST"

# ---------------------------------------------------------------- unpack the parts
# Small packages: unpack whole.
# part_stale DIR KEY: DIR/.done records what the part was made from (KEY).
part_stale() {
  [ "$FORCE" = 1 ] && return 0
  [ "$(cat "$1/.done" 2>/dev/null)" != "$2" ]
}
for k in shim grub-signed grub-bin isolinux syslinux busybox-amd64 busybox-i386; do
  d=$PARTS/$k
  if part_stale "$d" "${DEB[$k]##*/}"; then
    rm -rf "$d"; mkdir -p "$d"
    dpkg-deb -x "${DEB[$k]}" "$d"
    echo "${DEB[$k]##*/}" > "$d/.done"
  fi
done
SHIM=$PARTS/shim/usr/lib/shim/shimx64.efi.signed
GRUB_SIGNED=$PARTS/grub-signed/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed
GRUB_UNSIGNED=$PARTS/grub-bin/usr/lib/grub/x86_64-efi/monolithic/gcdx64.efi
ISOLINUX_BIN=$PARTS/isolinux/usr/lib/ISOLINUX/isolinux.bin
ISOHDPFX=$PARTS/isolinux/usr/lib/ISOLINUX/isohdpfx.bin
LDLINUX=$PARTS/syslinux/usr/lib/syslinux/modules/bios/ldlinux.c32
for f in "$SHIM" "$GRUB_SIGNED" "$GRUB_UNSIGNED" "$ISOLINUX_BIN" "$ISOHDPFX" "$LDLINUX" \
         "$PARTS/busybox-amd64/bin/busybox" "$PARTS/busybox-i386/bin/busybox"; do
  [ -s "$f" ] || die "expected file missing from the Debian packages: $f"
done

# Kernel: vmlinuz, config and the needed modules (dependencies resolved here).
kernel_part() {
  local arch=$1 deb=${DEB[kernel-$1]} d=$PARTS/kernel-$1 key
  key="${deb##*/} $EARLY_MODULES $STORAGE_MODULES $POINTER_MODULES $NET_MODULES"
  part_stale "$d" "$key" || return 0
  log "unpacking $(basename "$deb")"
  rm -rf "$d"; mkdir -p "$d/x" "$d/modules"
  # Uncompress once (xz is the slow part), then list and pick members from the plain tar.
  local tarball=$TMP/kernel-$arch.tar
  dpkg-deb --fsys-tarfile "$deb" > "$tarball"
  tar -tf "$tarball" > "$d/members"
  local kver
  kver=$(sed -n 's|^\./boot/vmlinuz-||p' "$d/members" | head -n1)
  [ -n "$kver" ] || die "no vmlinuz in $deb"
  echo "$kver" > "$d/version"
  # name -> member path (module names use '_' where file names may use '-')
  grep '\.ko$' "$d/members" | awk -F/ '{n=$NF; sub(/\.ko$/,"",n); gsub(/-/,"_",n); print n, $0}' > "$d/modpaths"
  tar -xf "$tarball" -C "$d/x" "./boot/vmlinuz-$kver" "./boot/config-$kver" "./lib/modules/$kver/modules.builtin"
  cp "$d/x/boot/vmlinuz-$kver" "$d/vmlinuz"; cp "$d/x/boot/config-$kver" "$d/config"
  # Breadth-first: extract the wanted modules, read their depends=, repeat for new ones.
  local want="$EARLY_MODULES $STORAGE_MODULES $POINTER_MODULES $NET_MODULES" have=" " round=0 m p missing deps
  while [ -n "${want// /}" ] && [ $round -lt 8 ]; do
    round=$((round + 1)); missing=()
    for m in $want; do
      m=${m//-/_}
      case "$have" in *" $m "*) continue ;; esac
      have="$have$m "
      p=$(awk -v n="$m" '$1 == n {print $2; exit}' "$d/modpaths")
      if [ -z "$p" ]; then
        grep -q "/${m}\.ko$" "$d/x/lib/modules/$kver/modules.builtin" ||
          grep -q "/${m//_/-}\.ko$" "$d/x/lib/modules/$kver/modules.builtin" ||
          die "module $m not found in $(basename "$deb")"
        continue   # built in
      fi
      missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || break
    tar -xf "$tarball" -C "$d/x" "${missing[@]}"
    want=""
    for p in "${missing[@]}"; do
      m=$(basename "$p" .ko); m=${m//-/_}
      cp "$d/x/$p" "$d/modules/$m.ko"
      deps=$(tr '\0' '\n' < "$d/modules/$m.ko" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' ')
      echo "$m $deps" >> "$d/deps"
      want="$want $deps"
    done
  done
  # Load order (dependencies first) for each group.
  order() {
    local m dep
    for m in "$@"; do
      case " $SEEN " in *" $m "*) continue ;; esac
      SEEN="$SEEN $m"
      [ -e "$d/modules/$m.ko" ] || continue
      for dep in $(awk -v n="$m" '$1 == n {$1=""; print}' "$d/deps"); do order "${dep//-/_}"; done
      echo "$m"
    done
  }
  SEEN=""
  # shellcheck disable=SC2086
  order $EARLY_MODULES > "$d/early.order"
  # shellcheck disable=SC2086
  order $STORAGE_MODULES > "$d/storage.order"
  # shellcheck disable=SC2086
  order $POINTER_MODULES > "$d/pointer.order"
  # shellcheck disable=SC2086
  order $NET_MODULES > "$d/net.order"
  rm -rf "$d/x" "$d/members" "$d/modpaths" "$tarball"
  echo "$key" > "$d/.done"
}
kernel_part amd64
kernel_part i386

# ---------------------------------------------------------------- initramfs
write_init() {
cat > "$1" <<'INIT'
#!/bin/sh
# Maru test medium: prints MARU-* markers on the serial console (ttyS0) and the screen,
# echoes serial input and keyboard lines (and keeps a RAM marker: mark=X, mark?), powers off on
# the ACPI power button.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /tmp /run

ser() { echo "$*" 2>/dev/null > /dev/ttyS0; }
say() { ser "$*"; echo "$*" 2>/dev/null > /dev/tty0; }
loadmods() {
  while read -r m; do [ -n "$m" ] && insmod "/lib/modules/$m.ko" 2>/dev/null; done < "/lib/modules/$1.order"
}
stty -F /dev/ttyS0 -echo 2>/dev/null

say MARU-BOOT-OK
loadmods early
say "MARU-ARCH=$(cat /etc/maru-arch) MARU-KERNEL=$(uname -r) MARU-MACHINE=$(uname -m)"
if [ -d /sys/firmware/efi ]; then
  say MARU-FIRMWARE=uefi
  mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
  sb=0
  v=/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
  if [ -r "$v" ]; then
    # 4 bytes of attributes, then the value (busybox od -j misreads efivarfs files)
    # shellcheck disable=SC2046
    set -- $(od -An -tu1 "$v")
    [ "${5:-0}" = 1 ] && sb=1
  elif dmesg | grep -qi 'secure boot enabled'; then
    sb=1
  fi
  say "MARU-SECUREBOOT=$sb"
else
  say MARU-FIRMWARE=bios
  say MARU-SECUREBOOT=0
fi
if [ -e /sys/class/tpm/tpm0 ]; then
  v=$(cat /sys/class/tpm/tpm0/tpm_version_major 2>/dev/null)
  say "MARU-TPM=${v:-unknown}"
else
  say MARU-TPM=none
fi

# ACPI power button: the button driver's input devices ("Power Button"); one read of an
# event (evdev refuses reads shorter than one event: 16 or 24 bytes) is enough.
pb=none
for e in /sys/class/input/event*; do
  [ -e "$e" ] || continue
  case "$(cat "$e/device/name" 2>/dev/null)" in
    *"Power Button"*)
      n=/dev/input/${e##*/}
      [ -c "$n" ] || continue
      pb=ready
      ( dd if="$n" of=/dev/null bs=64 count=1 2>/dev/null && { say MARU-POWEROFF; sync; poweroff -f; } ) &
      ;;
  esac
done
say "MARU-POWERBUTTON=$pb"

# Network: "net?" lists the adapters (MARU-NET=eth0/52:54:00:..:..:../192.168.1.2,...),
# "dhcp=eth0" asks for an address, "ip=eth0:10.9.0.1/24" sets one, "get=URL" fetches a page,
# "serve=PORT:TEXT" answers TEXT on a TCP port (what it received: "got=PORT"), and
# "send=ADDR:PORT:TEXT" sends TEXT and prints the answer (MARU-REPLY=...).
addr() { ip -4 -o addr show dev "$1" 2>/dev/null | awk '{print $4}' | head -n1; }
nics() {
  for n in /sys/class/net/*; do
    n=${n##*/}; [ "$n" = lo ] && continue
    printf '%s/%s/%s,' "$n" "$(cat /sys/class/net/$n/address)" "$(addr "$n")"
  done
}
# Serial echo (lines typed into ttyS0) and keyboard lines from the screen's VT.
cr=$(printf '\r')
# "mark=X" keeps X in RAM (/tmp is the initramfs) and "mark?" prints it: snapshot tests see
# whether RAM went back to the snapshot. "fill=N" fills N MiB of RAM (benchmarks: dirty RAM).
# UEFI + TPM: "efivar=X" creates the UEFI variable MaruTestX, "efivar?" lists them; "pcr16+"
# extends PCR 16 (TPM2_PCR_Extend, SHA-256 of 32 × 0x01), "pcr16?" prints it.
( while IFS= read -r l; do l=${l%"$cr"}; case "$l" in
    "") ;;
    "mark?") ser "MARU-MARK=$(cat /tmp/mark 2>/dev/null)" ;;
    mark=*) echo "${l#mark=}" > /tmp/mark; ser "MARU-ECHO:$l" ;;
    efivar=*) printf '\007\000\000\000x' > "/sys/firmware/efi/efivars/MaruTest${l#efivar=}-6d617275-7465-7374-8000-000000000001" &&
      ser "MARU-ECHO:$l" ;;
    "efivar?") ser "MARU-EFIVARS=$(ls /sys/firmware/efi/efivars | sed -n 's/^MaruTest\(.*\)-6d617275-.*/\1/p' | sort | tr '\n' ',')" ;;
    "pcr16+") exec 3<>/dev/tpm0
      printf '\200\002\000\000\000\101\000\000\001\202\000\000\000\020\000\000\000\011\100\000\000\011\000\000\000\000\000\000\000\000\001\000\013\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001\001' >&3
      dd bs=4096 count=1 <&3 > /dev/null 2>&1; exec 3>&-; ser "MARU-ECHO:$l" ;;
    "pcr16?") ser "MARU-PCR16=$(cat /sys/class/tpm/tpm0/pcr-sha256/16 2>/dev/null)" ;;
    fill=*) yes maru-fills-its-ram | head -c $(( ${l#fill=} * 1048576 )) > /tmp/fill; ser "MARU-FILLED=$(($(wc -c < /tmp/fill) >> 20))" ;;
    "net?") ser "MARU-NET=$(nics)" ;;
    dhcp=*) i=${l#dhcp=}; ip link set "$i" up 2>/dev/null
      if udhcpc -i "$i" -n -q -t 8 -T 1 -s /bin/maru-dhcp >/dev/null 2>&1; then ser "MARU-DHCP=$i:$(addr "$i")"; else ser "MARU-DHCP=$i:fail"; fi ;;
    ip=*) i=${l#ip=}; a=${i#*:}; i=${i%%:*}; ip link set "$i" up && ip addr add "$a" dev "$i" && ser "MARU-IP=$i:$a" ;;
    # (busybox 1.35's static wget crashes with -T: timeout bounds it instead)
    get=*) r=$(timeout 15 wget -q -O - "${l#get=}" 2>/tmp/wget.err | head -c 200 | tr -d '\r\n')
      ser "MARU-GET=${r:-fail $(tr -d '\r\n' < /tmp/wget.err | tail -c 120)}" ;;
    serve=*) p=${l#serve=}; t=${p#*:}; p=${p%%:*}
      ( while :; do echo "$t" | nc -l -p "$p" > "/tmp/got-$p.new" 2>/dev/null; mv "/tmp/got-$p.new" "/tmp/got-$p"; done ) 2>/dev/null &
      ser "MARU-SERVING=$p" ;;
    "got="*) ser "MARU-GOT=$(cat "/tmp/got-${l#got=}" 2>/dev/null | tr -d '\r\n')" ;;
    send=*) a=${l#send=}; t=${a#*:*:}; a=${a%:"$t"}
      r=$(echo "$t" | nc -w 5 "${a%%:*}" "${a#*:}" 2>/dev/null | head -c 200 | tr -d '\r\n'); ser "MARU-REPLY=${r:-fail}" ;;
    # Throughput: "sink=PORT" swallows what is sent to PORT; "blast=ADDR:PORT:MIB" sends MIB MiB
    # of zeros there and prints when it started and ended (seconds since boot).
    sink=*) ( while :; do nc -l -p "${l#sink=}" > /dev/null 2>&1; done ) 2>/dev/null & ser "MARU-SINKING=${l#sink=}" ;;
    blast=*) a=${l#blast=}; n=${a##*:}; a=${a%:*}; s0=$(cut -d' ' -f1 /proc/uptime)
      dd if=/dev/zero bs=65536 count=$((n * 16)) 2>/dev/null | nc "${a%%:*}" "${a#*:}" > /dev/null 2>&1
      ser "MARU-BLAST=$n:$s0:$(cut -d' ' -f1 /proc/uptime)" ;;
    *) ser "MARU-ECHO:$l" ;;
  esac; done < /dev/ttyS0 ) 2>/dev/null &
( while IFS= read -r l; do ser "MARU-KEY:$l"; done < /dev/tty1 ) 2>/dev/null &
say MARU-READY

# Storage controllers, then the block devices they found (wait until the list settles).
loadmods storage
prev="" i=0 same=0
while [ $i -lt 30 ]; do
  cur=""
  for b in /sys/block/*; do
    case "${b##*/}" in loop*|ram*|"*") ;; *) cur="$cur ${b##*/}" ;; esac
  done
  cur=${cur# }
  if [ "$cur" = "$prev" ]; then same=$((same + 1)); [ $same -ge 4 ] && break; else same=0; fi
  prev=$cur i=$((i + 1))
  usleep 250000
done
for b in $cur; do
  # A floppy's size is known once its medium is read: read the boot sector first (an empty or
  # absent drive fails at once), and report the FAT volume label it holds.
  label=""
  case "$b" in
    fd*) if dd if="/dev/$b" of=/tmp/bootsector bs=512 count=1 2>/dev/null; then
           label=$(dd if=/tmp/bootsector bs=1 skip=43 count=11 2>/dev/null | tr -cd 'A-Za-z0-9 _-' | sed 's/ *$//')
           label="label=${label:-none}"
         fi ;;
  esac
  say "MARU-DISK:$b sectors=$(cat "/sys/block/$b/size") removable=$(cat "/sys/block/$b/removable")"
  [ -n "$label" ] && say "MARU-FLOPPY:$b $label"
done
say "MARU-DISKS=$cur"

# Pointer: QEMU's USB tablet. Each left click is reported with the absolute position it
# landed at (0..32767 on both axes, as the tablet reports it): MARU-CLICK x=… y=…
loadmods pointer
# struct input_event: a timeval (two longs), then type, code (u16) and value (s32).
if [ "$(cat /etc/maru-arch)" = amd64 ]; then es=24; else es=16; fi
# And the PS/2 mouse's relative input device (v86's pointer; on v86 Linux drives it as a VMware
# VMMouse, "VirtualPS/2 VMware VMMouse", whose relative half this is): its motion is summed
# from boot and each left click reports the sum so far (evdev axes: x right, y down):
# MARU-RELCLICK dx=… dy=…
(
  mouse="" name="" i=0
  while [ -z "$mouse" ] && [ $i -lt 40 ]; do
    for e in /sys/class/input/event*; do
      n=$(cat "$e/device/name" 2>/dev/null)
      rel=$(cat "$e/device/capabilities/rel" 2>/dev/null)
      case "$n" in *PS/2*) [ "${rel:-0}" != 0 ] && mouse=/dev/input/${e##*/} name=$n ;; esac
    done
    [ -n "$mouse" ] || usleep 250000
    i=$((i + 1))
  done
  [ -c "$mouse" ] || exit 0
  exec 3< "$mouse"
  say "MARU-MOUSE=ps2 name=$name"
  sx=0 sy=0 click=0
  while :; do
    # shellcheck disable=SC2046
    set -- $(dd bs=$es count=1 <&3 2>/dev/null | od -An -tu2 -w$es)
    [ $# -ge 4 ] || continue
    shift $(($# - 4))
    type=$1 code=$2
    if [ "$4" -ge 32768 ]; then value=$(($3 - 65536)); else value=$3; fi
    case "$type:$code" in
      2:0) sx=$((sx + value)) ;;
      2:1) sy=$((sy + value)) ;;
      1:272) [ "$value" = 1 ] && click=1 ;;
      0:0) [ $click = 1 ] && ser "MARU-RELCLICK dx=$sx dy=$sy"; click=0 ;;
    esac
  done
) 2>/dev/null &
tablet=""
i=0
while [ -z "$tablet" ] && [ $i -lt 40 ]; do
  for e in /sys/class/input/event*; do
    case "$(cat "$e/device/name" 2>/dev/null)" in *Tablet*) tablet=/dev/input/${e##*/} ;; esac
  done
  [ -n "$tablet" ] || usleep 250000
  i=$((i + 1))
done
if [ -c "$tablet" ]; then
  (
    exec 3< "$tablet"
    x=0 y=0 click=0
    while :; do
      # shellcheck disable=SC2046
      set -- $(dd bs=$es count=1 <&3 2>/dev/null | od -An -tu2 -w$es)
      [ $# -ge 4 ] || continue
      shift $(($# - 4))
      type=$1 code=$2 value=$(($3 + $4 * 65536))
      case "$type:$code" in
        3:0) x=$value ;;
        3:1) y=$value ;;
        1:272) [ "$value" = 1 ] && click=1 ;;
        0:0) [ $click = 1 ] && ser "MARU-CLICK x=$x y=$y"; click=0 ;;
      esac
    done
  ) 2>/dev/null &
  say "MARU-POINTER=tablet"
else
  say MARU-POINTER=none
fi

# Network adapters (after the markers above: they take no time off the boot), then lo.
loadmods net
ip link set lo up 2>/dev/null
say "MARU-NICS=$(nics)"

while :; do sleep 3600; done
INIT
}

build_initramfs() {
  local arch=$1 target=$OUT/initramfs-$1.cpio.gz k=$PARTS/kernel-$1
  stale "$target" "$SELF" "$k/.done" "$PARTS/busybox-$arch/.done" || return 0
  local r=$TMP/initramfs-$arch m
  rm -rf "$r"; mkdir -p "$r"/{bin,dev,etc,lib/modules,mnt,proc,root,run,sys,tmp}
  cp "$PARTS/busybox-$arch/bin/busybox" "$r/bin/busybox"
  ln -s busybox "$r/bin/sh"
  write_init "$r/init"; chmod 755 "$r/init" "$r/bin/busybox"
  # udhcpc's hook: put the lease on the interface (address, default route, DNS).
  cat > "$r/bin/maru-dhcp" <<'DHCP'
#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf; for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done ;;
esac
exit 0
DHCP
  chmod 755 "$r/bin/maru-dhcp"
  echo "$arch" > "$r/etc/maru-arch"
  cat "$k/early.order" "$k/storage.order" "$k/pointer.order" "$k/net.order" | while read -r m; do cp "$k/modules/$m.ko" "$r/lib/modules/"; done
  cp "$k/early.order" "$k/storage.order" "$k/pointer.order" "$k/net.order" "$r/lib/modules/"
  find "$r" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  (cd "$r" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n > "$TMP/initramfs.gz"
  mv "$TMP/initramfs.gz" "$target"
  built "$target"
}
build_initramfs amd64
build_initramfs i386
# The kernels too, for direct boots (qemu -kernel/-initrd, v86 bzimage/initrd).
for arch in amd64 i386; do
  if stale "$OUT/vmlinuz-$arch" "$PARTS/kernel-$arch/.done"; then
    cp "$PARTS/kernel-$arch/vmlinuz" "$OUT/vmlinuz-$arch"
    built "$OUT/vmlinuz-$arch"
  fi
done

# ---------------------------------------------------------------- ISO helpers
# cryptomgr.notests skips the kernel's crypto self-tests: ~1 s of a ~11 s boot under TCG.
CMDLINE="console=ttyS0,115200n8 console=tty0 quiet cryptomgr.notests"

# tree NAME ARCH: common ISO 9660 tree with kernel, initramfs and .disk/ files
make_tree() {
  local name=$1 arch=$2 t=$TMP/tree-$1
  rm -rf "$t"; mkdir -p "$t/.disk" "$t/boot"
  cp "$PARTS/kernel-$arch/vmlinuz" "$t/boot/vmlinuz"
  cp "$OUT/initramfs-$arch.cpio.gz" "$t/boot/initrd.gz"
  printf 'Maru test medium %s (%s, Debian %s, linux %s)\n' "$name" "$arch" "$SUITE" \
    "$(cat "$PARTS/kernel-$arch/version")" > "$t/.disk/info"
  echo "$name" > "$t/.disk/$name"   # unique file for grub's search
  echo "$t"
}

isolinux_files() {
  local t=$1
  mkdir -p "$t/isolinux"
  cp "$ISOLINUX_BIN" "$LDLINUX" "$t/isolinux/"
  cat > "$t/isolinux/isolinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT maru
PROMPT 0
TIMEOUT 0
LABEL maru
  KERNEL /boot/vmlinuz
  INITRD /boot/initrd.gz
  APPEND $CMDLINE
EOF
}

grub_cfg() {   # grub_cfg FILE NAME ARCH
  cat > "$1" <<EOF
set default=0
set timeout=0
set timeout_style=hidden
search --no-floppy --set=root --file /.disk/$2
menuentry 'Maru test medium ($3)' {
	linux /boot/vmlinuz $CMDLINE
	initrd /boot/initrd.gz
}
EOF
}

# esp_image IMG FILE:DEST... : FAT EFI System Partition image holding the given files
esp_image() {
  local img=$1 kb=0 f; shift
  for f in "$@"; do kb=$((kb + ($(stat -c %s "${f%%:*}") + 1023) / 1024)); done
  kb=$(((kb + 1024 + 511) / 512 * 512))   # + 1 MiB for FAT overhead, in 512 KiB steps
  rm -f "$img"
  mkfs.fat -C -n MARU_ESP -i 4d415255 "$img" "$kb" > /dev/null
  export MTOOLS_SKIP_CHECK=1
  mmd -i "$img" ::/EFI ::/EFI/boot
  for f in "$@"; do mcopy -i "$img" -m "${f%%:*}" "::${f#*:}"; done
}

# pe_signed FILE: true when the PE image carries an Authenticode signature
pe_signed() {
  local f=$1 lfanew magic off size
  lfanew=$(od -An -tu4 -j60 -N4 "$f" | tr -d ' ')
  magic=$(od -An -tx2 -j$((lfanew + 24)) -N2 "$f" | tr -d ' ')
  case "$magic" in 020b) off=$((lfanew + 24 + 144)) ;; 010b) off=$((lfanew + 24 + 128)) ;; *) return 1 ;; esac
  size=$(od -An -tu4 -j$((off + 4)) -N4 "$f" | tr -d ' ')
  [ "${size:-0}" -gt 0 ]
}

mkiso() {   # mkiso OUT LABEL TREE XORRISO-ARGS...
  local out=$1 label=$2 tree=$3; shift 3
  xorriso -as mkisofs -quiet -o "$TMP/out.iso" -V "$label" -R -J -joliet-long "$@" "$tree" \
    > "$TMP/xorriso.log" 2>&1 || { cat "$TMP/xorriso.log" >&2; die "xorriso failed for $(basename "$out")"; }
  mv "$TMP/out.iso" "$out"
  rm -rf "$tree"
  built "$out"
}

# ---------------------------------------------------------------- 2. BIOS + UEFI (amd64)
ISO=$OUT/maru-test-bios-uefi.iso
if stale "$ISO" "$SELF" "$OUT/initramfs-amd64.cpio.gz" "$PARTS/kernel-amd64/.done" "$PARTS/grub-bin/.done" "$PARTS/isolinux/.done" "$PARTS/syslinux/.done"; then
  t=$(make_tree maru-test-bios-uefi amd64)
  isolinux_files "$t"
  mkdir -p "$t/boot/grub" "$t/EFI/boot" "$t/EFI/debian"
  grub_cfg "$t/boot/grub/grub.cfg" maru-test-bios-uefi amd64
  cp "$t/boot/grub/grub.cfg" "$t/EFI/boot/grub.cfg"; cp "$t/boot/grub/grub.cfg" "$t/EFI/debian/grub.cfg"
  cp "$GRUB_UNSIGNED" "$t/EFI/boot/bootx64.efi"
  esp_image "$t/boot/grub/efi.img" "$GRUB_UNSIGNED:/EFI/boot/bootx64.efi" "$t/EFI/boot/grub.cfg:/EFI/boot/grub.cfg"
  mkiso "$ISO" MARU_TEST "$t" \
    -isohybrid-mbr "$ISOHDPFX" \
    -c isolinux/boot.cat -b isolinux/isolinux.bin -no-emul-boot -boot-load-size 4 -boot-info-table \
    -eltorito-alt-boot -e boot/grub/efi.img -no-emul-boot -isohybrid-gpt-basdat
fi

# ---------------------------------------------------------------- 3. i386, BIOS (ISOLINUX)
ISO=$OUT/maru-test-i386.iso
if stale "$ISO" "$SELF" "$OUT/initramfs-i386.cpio.gz" "$PARTS/kernel-i386/.done" "$PARTS/isolinux/.done" "$PARTS/syslinux/.done"; then
  t=$(make_tree maru-test-i386 i386)
  isolinux_files "$t"
  mkiso "$ISO" MARU_TEST_I386 "$t" \
    -isohybrid-mbr "$ISOHDPFX" \
    -c isolinux/boot.cat -b isolinux/isolinux.bin -no-emul-boot -boot-load-size 4 -boot-info-table
fi

# ---------------------------------------------------------------- 4. UEFI Secure Boot: shim -> grub -> kernel
uefi_iso() {   # uefi_iso NAME LABEL BOOTX64 [GRUBX64]
  local name=$1 label=$2 bootx64=$3 grubx64=${4:-} t files
  t=$(make_tree "$name" amd64)
  mkdir -p "$t/boot/grub" "$t/EFI/boot" "$t/EFI/debian"
  grub_cfg "$t/boot/grub/grub.cfg" "$name" amd64
  cp "$t/boot/grub/grub.cfg" "$t/EFI/boot/grub.cfg"; cp "$t/boot/grub/grub.cfg" "$t/EFI/debian/grub.cfg"
  cp "$bootx64" "$t/EFI/boot/bootx64.efi"
  files=("$bootx64:/EFI/boot/bootx64.efi" "$t/EFI/boot/grub.cfg:/EFI/boot/grub.cfg")
  if [ -n "$grubx64" ]; then
    cp "$grubx64" "$t/EFI/boot/grubx64.efi"
    files+=("$grubx64:/EFI/boot/grubx64.efi")
  fi
  esp_image "$t/boot/grub/efi.img" "${files[@]}"
  mkiso "$OUT/$name.iso" "$label" "$t" -e boot/grub/efi.img -no-emul-boot
}

for f in "$SHIM" "$GRUB_SIGNED" "$PARTS/kernel-amd64/vmlinuz"; do
  pe_signed "$f" || die "$f carries no Authenticode signature"
done
pe_signed "$GRUB_UNSIGNED" && die "$GRUB_UNSIGNED is unexpectedly signed"
if command -v sbverify >/dev/null 2>&1; then
  for f in "$SHIM" "$GRUB_SIGNED" "$PARTS/kernel-amd64/vmlinuz"; do
    sbverify --list "$f" 2>/dev/null | grep -q 'signature 1' || die "sbverify finds no signature on $f"
  done
fi
if stale "$OUT/maru-test-secureboot.iso" "$SELF" "$OUT/initramfs-amd64.cpio.gz" "$PARTS/kernel-amd64/.done" "$PARTS/shim/.done" "$PARTS/grub-signed/.done"; then
  uefi_iso maru-test-secureboot MARU_TEST_SB "$SHIM" "$GRUB_SIGNED"
fi
if stale "$OUT/maru-test-unsigned-uefi.iso" "$SELF" "$OUT/initramfs-amd64.cpio.gz" "$PARTS/kernel-amd64/.done" "$PARTS/grub-bin/.done"; then
  uefi_iso maru-test-unsigned-uefi MARU_TEST_NOSIG "$GRUB_UNSIGNED"
fi

# ---------------------------------------------------------------- 5. bad inputs
if [ ! -s "$OUT/not-an-iso.bin" ] || [ "$FORCE" = 1 ]; then
  head -c 2097152 /dev/urandom > "$OUT/not-an-iso.bin"
  built "$OUT/not-an-iso.bin"
fi
if stale "$OUT/truncated.iso" "$OUT/maru-test-bios-uefi.iso"; then
  head -c 40960 "$OUT/maru-test-bios-uefi.iso" > "$OUT/truncated.iso"
  built "$OUT/truncated.iso"
fi

log "media in ${OUT#"$ROOT"/}:"
for f in vmlinuz-amd64 initramfs-amd64.cpio.gz vmlinuz-i386 initramfs-i386.cpio.gz maru-test-bios-uefi.iso maru-test-i386.iso \
         maru-test-secureboot.iso maru-test-unsigned-uefi.iso not-an-iso.bin truncated.iso; do
  printf '  %-28s %s\n' "$f" "$(du -h "$OUT/$f" | cut -f1)"
done
log "done in $(( $(date +%s) - T0 )) s"

[ "$VERIFY" = 1 ] || exit 0

# ================================================================ --verify
# Boots each medium under QEMU with TCG (as on hosts where KVM is unusable) and reports the
# seconds from QEMU's start to each marker. Serial and monitor go through FIFO pairs
# (QEMU "pipe" chardevs), so only bash and QEMU are needed.
need qemu-system-x86_64 qemu-system-x86; need qemu-system-i386 qemu-system-x86; need swtpm swtpm
OVMF=${MARU_OVMF_DIR:-/usr/share/OVMF}
for f in OVMF_CODE_4M.fd OVMF_VARS_4M.fd OVMF_CODE_4M.ms.fd OVMF_VARS_4M.ms.fd; do
  [ -r "$OVMF/$f" ] || die "$OVMF/$f missing: install Debian package 'ovmf'"
done
VT=$(mktemp -d "${TMPDIR:-/tmp}/maru-fx.XXXXXX")   # short: swtpm's unix socket lives here
trap 'cleanup; rm -rf "$VT"' EXIT
FAILS=0 CHECKS=0
VM_PID="" VM_READERS="" VM_START=0 VM_DIR="" SWTPM_PID=""

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }
ok() { CHECKS=$((CHECKS + 1)); log "verify: ok   $*"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); log "verify: FAIL $*"; }

# vm_start NAME QEMU-BINARY ARGS...: serial on $VM_DIR/serial.{in,out}, HMP on $VM_DIR/mon.{in,out}
vm_start() {
  local name=$1 bin=$2; shift 2
  VM_DIR=$VT/$name; mkdir -p "$VM_DIR"
  mkfifo "$VM_DIR/serial.in" "$VM_DIR/serial.out" "$VM_DIR/mon.in" "$VM_DIR/mon.out"
  VM_START=$(ms_now)
  "$bin" -accel tcg -m 512 -display none -no-reboot -nodefaults -vga std \
    -chardev "pipe,id=ser0,path=$VM_DIR/serial" -serial chardev:ser0 \
    -chardev "pipe,id=mon0,path=$VM_DIR/mon" -mon chardev=mon0,mode=readline \
    "$@" > "$VM_DIR/qemu.log" 2>&1 &
  VM_PID=$!
  cat "$VM_DIR/serial.out" > "$VM_DIR/serial.log" & VM_READERS="$!"
  cat "$VM_DIR/mon.out" > "$VM_DIR/mon.log" & VM_READERS="$VM_READERS $!"
  # shellcheck disable=SC2206  # PIDs: split on purpose
  VERIFY_PIDS=(${SWTPM_PID:-} "$VM_PID" $VM_READERS)
}
vm_stop() {   # stop QEMU and reap it and its readers, so no stale PID is kept
  local p
  [ -n "$VM_PID" ] || return 0
  kill "$VM_PID" 2>/dev/null || true
  wait "$VM_PID" 2>/dev/null || true
  for p in $VM_READERS; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  VM_PID="" VM_READERS=""
  # shellcheck disable=SC2206
  VERIFY_PIDS=(${SWTPM_PID:-})
}
# wait_for MARKER TIMEOUT-S: prints ms since VM start; fails on timeout or when QEMU is gone
wait_for() {
  local m=$1 limit=$(( $(ms_now) + $2 * 1000 ))
  while [ "$(ms_now)" -lt "$limit" ]; do
    if grep -aq -- "$m" "$VM_DIR/serial.log" 2>/dev/null; then echo $(( $(ms_now) - VM_START )); return 0; fi
    kill -0 "$VM_PID" 2>/dev/null || { grep -aq -- "$m" "$VM_DIR/serial.log" && { echo $(( $(ms_now) - VM_START )); return 0; }; return 1; }
    sleep 0.1
  done
  return 1
}
has() { grep -aq -- "$1" "$VM_DIR/serial.log"; }
hmp() { printf '%s\n' "$1" > "$VM_DIR/mon.in"; }
fail_log() { bad "$1 (serial log tail:)"; tail -c 600 "$VM_DIR/serial.log" | tr -d '\033' | sed 's/^/    | /' >&2; }

# boot_check NAME EXPECT... : wait for MARU-READY and check the expected marker lines
boot_check() {
  local name=$1 t r; shift
  if t=$(wait_for MARU-BOOT-OK 120); then
    r=$(wait_for MARU-READY 30) || r=0
    ok "$name: MARU-BOOT-OK after $(secs "$t") s (MARU-READY $(secs "$r") s)"
    local e
    for e in "$@"; do has "$e" && ok "$name: $e" || bad "$name: expected $e"; done
    return 0
  fi
  fail_log "$name: no MARU-BOOT-OK"
  return 1
}

# interaction NAME: serial echo, keyboard line via HMP sendkey, ACPI power button
interaction() {
  local name=$1 t0 t k
  t0=$(ms_now); printf 'hello maru\n' > "$VM_DIR/serial.in"
  if wait_for 'MARU-ECHO:hello maru' 15 > /dev/null; then ok "$name: serial echo after $(secs $(( $(ms_now) - t0 ))) s"
  else fail_log "$name: no MARU-ECHO"; fi
  t0=$(ms_now)
  for k in m a r u ret; do hmp "sendkey $k"; sleep 0.1; done
  if wait_for 'MARU-KEY:maru' 15 > /dev/null; then ok "$name: keyboard line after $(secs $(( $(ms_now) - t0 ))) s"
  else fail_log "$name: no MARU-KEY"; fi
  t0=$(ms_now); hmp system_powerdown
  if wait_for MARU-POWEROFF 20 > /dev/null; then
    t=$(( $(ms_now) - t0 ))
    local limit=$(( $(ms_now) + 20000 ))
    while kill -0 "$VM_PID" 2>/dev/null && [ "$(ms_now)" -lt "$limit" ]; do sleep 0.1; done
    if kill -0 "$VM_PID" 2>/dev/null; then bad "$name: MARU-POWEROFF after $(secs "$t") s but QEMU still running"
    else ok "$name: power button: MARU-POWEROFF after $(secs "$t") s, QEMU exited after $(secs $(( $(ms_now) - t0 ))) s"; fi
  else fail_log "$name: no MARU-POWEROFF after system_powerdown"; fi
}

uefi_args() {   # uefi_args plain|secure VARS-COPY
  if [ "$1" = secure ]; then
    cp "$OVMF/OVMF_VARS_4M.ms.fd" "$2"
    echo "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on"
    echo "-drive if=pflash,format=raw,readonly=on,file=$OVMF/OVMF_CODE_4M.ms.fd -drive if=pflash,format=raw,file=$2"
  else
    cp "$OVMF/OVMF_VARS_4M.fd" "$2"
    echo "-machine q35 -drive if=pflash,format=raw,readonly=on,file=$OVMF/OVMF_CODE_4M.fd -drive if=pflash,format=raw,file=$2"
  fi
}

log "verify: booting the media under QEMU TCG (one at a time)"

# 1. BIOS (SeaBIOS + ISOLINUX), then serial echo, keyboard and the power button.
vm_start bios qemu-system-x86_64 -machine pc -cdrom "$OUT/maru-test-bios-uefi.iso"
boot_check "bios (maru-test-bios-uefi.iso, pc)" MARU-FIRMWARE=bios MARU-SECUREBOOT=0 MARU-TPM=none MARU-POWERBUTTON=ready &&
  interaction bios
vm_stop

# 2. UEFI (OVMF, no Secure Boot)
# shellcheck disable=SC2046
vm_start uefi qemu-system-x86_64 $(uefi_args plain "$VT/vars-uefi.fd") -cdrom "$OUT/maru-test-bios-uefi.iso"
boot_check "uefi (maru-test-bios-uefi.iso, q35 OVMF)" MARU-FIRMWARE=uefi MARU-SECUREBOOT=0
vm_stop

# 3. Secure Boot + TPM 2.0 (swtpm): shim -> grub -> kernel
mkdir -p "$VT/tpm"
swtpm socket --tpm2 --tpmstate "dir=$VT/tpm" --ctrl "type=unixio,path=$VT/tpm/s" --terminate > "$VT/swtpm.log" 2>&1 &
SWTPM_PID=$!; VERIFY_PIDS=("$SWTPM_PID")
for _ in $(seq 50); do [ -S "$VT/tpm/s" ] && break; sleep 0.1; done
# shellcheck disable=SC2046
vm_start secureboot qemu-system-x86_64 $(uefi_args secure "$VT/vars-sb.fd") -cdrom "$OUT/maru-test-secureboot.iso" \
  -chardev "socket,id=chrtpm,path=$VT/tpm/s" -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-crb,tpmdev=tpm0
boot_check "secureboot+tpm (maru-test-secureboot.iso, q35 SMM OVMF .ms, swtpm)" MARU-SECUREBOOT=1 MARU-TPM=2
vm_stop
kill "$SWTPM_PID" 2>/dev/null || true; wait "$SWTPM_PID" 2>/dev/null || true
SWTPM_PID=""; VERIFY_PIDS=()

# 4. Unsigned grub under Secure Boot: the firmware must refuse it.
# shellcheck disable=SC2046
vm_start unsigned qemu-system-x86_64 $(uefi_args secure "$VT/vars-ns.fd") -cdrom "$OUT/maru-test-unsigned-uefi.iso"
if t=$(wait_for 'Access Denied\|Security Violation' 90); then
  sleep 5
  if has MARU-BOOT-OK; then bad "unsigned: booted under Secure Boot"
  else ok "unsigned (maru-test-unsigned-uefi.iso, Secure Boot): refused after $(secs "$t") s ($(grep -ao 'Access Denied\|Security Violation' "$VM_DIR/serial.log" | head -n1))"; fi
else fail_log "unsigned: no Access Denied / Security Violation"; fi
vm_stop
# ...while the same medium boots without Secure Boot (so the refusal is about the signature).
# shellcheck disable=SC2046
vm_start unsigned-nosb qemu-system-x86_64 $(uefi_args plain "$VT/vars-ns2.fd") -cdrom "$OUT/maru-test-unsigned-uefi.iso"
boot_check "unsigned (maru-test-unsigned-uefi.iso, q35 OVMF without Secure Boot)" MARU-SECUREBOOT=0
vm_stop

# 5. i386 (qemu-system-i386, SeaBIOS + ISOLINUX), with echo, keyboard and power button.
vm_start i386 qemu-system-i386 -machine pc -cdrom "$OUT/maru-test-i386.iso"
boot_check "i386 (maru-test-i386.iso, qemu-system-i386)" MARU-ARCH=i386 MARU-FIRMWARE=bios &&
  interaction i386
vm_stop

if [ "$FAILS" = 0 ]; then log "verify: all $CHECKS checks passed"
else log "verify: $FAILS of $CHECKS checks FAILED"; exit 1; fi
