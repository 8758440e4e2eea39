#!/usr/bin/env bash
# The local stand-in for python:3.11-slim that `make docker-test` builds the unchanged Dockerfile on
# (`buildah bud --from <this>`): no registry for Docker Hub images is reachable where the tests run.
#
# Debian bookworm (minbase, from the machine's own Debian mirror) with Python 3.11 in a venv at
# /opt/python put first on PATH, so `python` and `pip` are 3.11 as in the official image and
# `pip install` is not refused by PEP 668. The machine's TLS CA bundle goes into this base only
# (pip's `cert`), never into the Dockerfile: pip inside the build reaches PyPI through it.
#
# Cached: the base is a buildah image tagged with a hash of this script, the mirror and the CA
# bundle, in the storage given by BUILDAH_ROOT (default .cache/docker/storage); a second call finds
# it and only prints its name. Prints the image name on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${IMAGE_TEST_CACHE:-$PWD/.cache/docker}
STORAGE=(--root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver vfs)
SUITE=bookworm
CA=${IMAGE_TEST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

mirror() {  # the Debian mirror this machine's apt uses (deb822 or one-line sources), else deb.debian.org
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\?$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
  [ -n "$uri" ] || uri=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)\/\?[[:space:]]\+'"$SUITE"'[[:space:]].*/\2/p' \
    /etc/apt/sources.list 2>/dev/null | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

MIRROR=${IMAGE_TEST_DEBIAN_MIRROR:-$(mirror)}
[ -r "$CA" ] || { echo "image_test_base: no CA bundle at $CA" >&2; exit 1; }
KEY=$( { cat "$0"; echo "$MIRROR $SUITE"; cat "$CA"; } | sha256sum | cut -c1-16)
NAME=localhost/photo-organizer-test-base:$KEY

mkdir -p "$CACHE"
if buildah "${STORAGE[@]}" inspect --type image "$NAME" >/dev/null 2>&1; then
  echo "image_test_base: cached $NAME" >&2
  echo "$NAME"
  exit 0
fi

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || { echo "image_test_base: $tool is not installed (apt-get install $tool)" >&2; exit 1; }
done

started=$(date +%s)
work=$(mktemp -d "$CACHE/base.XXXXXX")
ctr=
unmount() {  # whatever debootstrap or this script left mounted in the new root, before any rm -rf
  local m
  for m in dev/pts dev sys proc; do
    if mountpoint -q "$work/root/$m"; then umount -l "$work/root/$m"; fi
  done
}
cleanup() {
  unmount
  if [ -n "$ctr" ]; then buildah "${STORAGE[@]}" rm "$ctr" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
root=$work/root

for attempt in 1 2 3; do  # a dropped download fails debootstrap: start again from scratch, twice at most
  echo "image_test_base: debootstrap $SUITE from $MIRROR (attempt $attempt) ..." >&2
  unmount
  rm -rf "$root"
  if debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
    break
  fi
  tail -n 30 "$work/debootstrap.log" >&2
  [ "$attempt" -lt 3 ] || exit 1
  sleep 5
done

mount -t proc proc "$root/proc"
chroot "$root" /usr/bin/python3 -m venv /opt/python
umount "$root/proc"
cp "$CA" "$root/etc/ssl/certs/ca-certificates.crt"
# pip in the build: through the machine's CA bundle, patient with a slow or dropped download
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\ntimeout = 120\nretries = 10\n' >"$root/etc/pip.conf"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/*
chroot "$root" /opt/python/bin/python -V >&2
tar -C "$root" --numeric-owner -cf "$work/rootfs.tar" .

ctr=$(buildah "${STORAGE[@]}" from scratch)
buildah "${STORAGE[@]}" add "$ctr" "$work/rootfs.tar" / >/dev/null
buildah "${STORAGE[@]}" config --env PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 --cmd python3 "$ctr"
buildah "${STORAGE[@]}" commit --quiet --format docker "$ctr" "$NAME" >/dev/null
echo "image_test_base: built $NAME in $(( $(date +%s) - started )) s" >&2
# vfs keeps a full copy per image: drop the bases an earlier script, mirror or CA bundle made
for old in $(buildah "${STORAGE[@]}" images --format '{{.Name}}:{{.Tag}}' 2>/dev/null | grep "^${NAME%%:*}:" || true); do
  if [ "$old" != "$NAME" ]; then buildah "${STORAGE[@]}" rmi "$old" >/dev/null 2>&1 || true; fi
done
echo "$NAME"
