#!/usr/bin/env bash
# Maintainer tool, not run by CI or `npm run build`: regenerates the committed app icons in
# assets/icons (Linux PNG set, Windows .ico, macOS .icns) from assets/icons/maru.svg.
# Needs Debian's librsvg2-bin (rsvg-convert), imagemagick (convert) and icnsutils (png2icns).
set -euo pipefail

cd "$(dirname "$0")/.."
src=assets/icons/maru.svg
out=assets/icons

# ImageMagick 7 names its tool `magick`; 6 (Debian bookworm) `convert`.
if command -v magick >/dev/null 2>&1; then im=(magick); else im=(convert); fi
for tool in rsvg-convert "${im[0]}" png2icns; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-icons: '$tool' was not found, so the icons cannot be drawn." >&2
    echo "Install it: apt-get install -y librsvg2-bin imagemagick icnsutils" >&2
    exit 1
  fi
done
[[ -f $src ]] || { echo "build-icons: $src is missing; it is the icons' only source." >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Linux (AppImage, deb): electron-builder takes a folder of <size>x<size>.png; 512 is the largest.
mkdir -p "$out/png"
rm -f "$out"/png/*.png
for s in 16 24 32 48 64 128 256 512; do
  rsvg-convert -w "$s" -h "$s" "$src" -o "$tmp/$s.png"
done

# Lossless squeeze where optipng is installed (optional: apt-get install optipng).
if command -v optipng >/dev/null 2>&1; then optipng -quiet -o5 "$tmp"/*.png; fi
for s in 16 24 32 48 64 128 256 512; do cp "$tmp/$s.png" "$out/png/${s}x${s}.png"; done

# Windows (nsis): one .ico holding 16, 24, 32, 48, 64, 128 and 256 (the 256 stored as PNG).
"${im[@]}" "$tmp/16.png" "$tmp/24.png" "$tmp/32.png" "$tmp/48.png" "$tmp/64.png" "$tmp/128.png" "$tmp/256.png" \
  "$out/icon.ico"

# macOS (dmg): png2icns picks the icns type from each PNG's size. 1024 (512@2x) is left out to
# keep the repository small; macOS scales the 512 up for the largest Retina Dock size.
png2icns "$out/icon.icns" "$tmp/16.png" "$tmp/32.png" "$tmp/128.png" "$tmp/256.png" "$tmp/512.png" >/dev/null

du -cb "$out"/png/*.png "$out/icon.ico" "$out/icon.icns" | tail -1 | awk '{print "build-icons: wrote " $1 " bytes of icons to assets/icons"}'
