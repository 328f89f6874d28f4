#!/usr/bin/env bash
# Installs the peers (restic, borg), the tools the harness needs (sqlite3 for
# inspection, GNU time for peak RSS) and the Debian packages whose real files
# make up the corpus. Safe to run again: apt-get skips what is installed.
#
# Usage: sudo bash bench/peers/setup.sh        (root: apt-get needs it)
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "Cannot install the benchmark packages: apt-get needs root (run with sudo)" >&2
  exit 1
fi

# The peers, at the versions Debian 12 ships (restic 0.14, borg 1.2), and GNU
# time, whose `-f %M` gives the peak RSS of a whole process.
tools=(restic borgbackup sqlite3 time)

# Text for the chat database: the classic fortunes, plus Portuguese ones so the
# messages are not all ASCII.
text=(fortune-mod fortunes fortunes-min fortunes-br)

# Real media, checked with `apt-get download` + `dpkg -c`:
#   gnome-backgrounds            WebP wallpapers (~30 MB)
#   desktop-base                 Debian theme PNG/SVG (~20 MB)
#   plasma-workspace-wallpapers  JPEG/PNG wallpapers (~90 MB)
#   mate-backgrounds             JPEG/PNG wallpapers (~45 MB)
#   sound-theme-freedesktop      short Ogg Vorbis (.oga) clips: stand-ins for voice notes
#   wesnoth-1.16-music           Ogg Vorbis music (~150 MB): the audio folder
# Debian ships almost no video, so make_corpus.ts synthesises video-like
# incompressible files instead (see README.md).
media=(gnome-backgrounds desktop-base plasma-workspace-wallpapers mate-backgrounds
  sound-theme-freedesktop wesnoth-1.16-music)

missing=()
for package in "${tools[@]}" "${text[@]}" "${media[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "bench/peers: all packages already installed"
else
  echo "bench/peers: installing ${missing[*]}"
  apt-get update
  # No recommends: desktop-base would otherwise pull in Plymouth and a desktop.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

restic version
borg --version
/usr/bin/time --version 2>&1 | head -n 1
