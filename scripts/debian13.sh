#!/usr/bin/env bash
# Runs a command inside a Debian 13 "trixie" root (Dovecot 2.4), so the README's commands
# and CI's Debian 13 lane can be run on a Debian 12 host, e.g.
#
#   bash scripts/debian13.sh --fresh -- bash -c 'bash scripts/setup.sh && ctest --test-dir build'
#
# Usage: scripts/debian13.sh [--fresh] [--root DIR] [-- COMMAND [ARGS...]]
#   --fresh     delete the root and build a new one (what a new Debian 13 user gets)
#   --root DIR  the root to build or reuse (default $ARCHIVER_DEBIAN13_ROOT, else
#               /var/tmp/dovecot-archiver-debian13)
# Without COMMAND it only builds (or checks) the root.
#
# The root is made with `debootstrap --variant=minbase trixie` and reused while it holds
# the marker written after a successful build. COMMAND runs as root, chrooted, in a private
# mount and PID namespace (nothing stays mounted, no process outlives it), in this checkout
# (bind-mounted at the same path), with ../shared bind-mounted read-only if it exists and
# build/ replaced by the root's own /var/lib/archiver-build, so the host's build is left
# alone. Its environment is PATH, HOME=/root, LANG=C.UTF-8, DEBIAN_FRONTEND=noninteractive,
# and TERM and CI if set. Exits with COMMAND's status. Needs root; installs debootstrap.
#
# Environment: ARCHIVER_DEBIAN13_ROOT  default for --root.
set -euo pipefail

mirror=http://deb.debian.org/debian
die() { echo "debian13: $*" >&2; exit 1; }
usage() { sed -n '7,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

checkout="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
shared="$(cd "$checkout/.." && pwd -P)/shared"
root="${ARCHIVER_DEBIAN13_ROOT:-/var/tmp/dovecot-archiver-debian13}"
fresh=0
while (($# > 0)); do
  case "$1" in
    --fresh) fresh=1; shift ;;
    --root) (($# >= 2)) || die "--root needs a directory"; root="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) break ;;
  esac
done
[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot and mounts need it)"
[[ -n "$root" && "$root" != / ]] || die "bad root directory '$root'"
root="$(mkdir -p "$(dirname "$root")" && cd "$(dirname "$root")" && pwd -P)/$(basename "$root")"

# Deletes a root, refusing if anything is mounted under it (rm would reach into the mount).
remove_root() {
  [[ -e "$1" ]] || return 0
  if awk -v r="$1" '$2 == r || index($2, r "/") == 1 {found = 1} END {exit !found}' /proc/self/mounts; then
    die "something is mounted under $1; not deleting it"
  fi
  rm -rf --one-file-system "$1"
}

# One run at a time per root: runs share the root's /tmp and build directory.
exec 9>"$root.lock"
flock -n 9 || { echo "debian13: waiting for another run using $root" >&2; flock 9; }

((fresh)) && remove_root "$root"
if [[ -d "$root" && ! -e "$root/.archiver-root-ok" ]]; then
  echo "debian13: $root is incomplete (interrupted build?); deleting it" >&2
  remove_root "$root"
fi

if [[ -d "$root" ]]; then
  echo "debian13: reusing Debian 13 root at $root" >&2
else
  if ! command -v debootstrap >/dev/null; then
    echo "debian13: installing debootstrap" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
      die "could not install debootstrap (is the package mirror reachable?)"
  fi
  [[ -e /usr/share/debootstrap/scripts/trixie ]] || die "this debootstrap does not know trixie"
  echo "debian13: building Debian 13 root at $root (debootstrap, about a minute)" >&2
  partial="$root.partial"
  log="$root.debootstrap.log"
  remove_root "$partial"
  # In its own mount namespace, so an interrupted debootstrap leaves no /proc mounted.
  if ! unshare --mount --propagation private \
       debootstrap --variant=minbase trixie "$partial" "$mirror" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "debootstrap failed (is $mirror reachable? full log: $log)"
  fi
  grep -q " trixie main" "$partial/etc/apt/sources.list" || die "unexpected apt sources in root"
  printf '#!/bin/sh\n# Do not start services inside this chroot.\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
  chmod 755 "$partial/usr/sbin/policy-rc.d"
  touch "$partial/.archiver-root-ok"
  mv "$partial" "$root"
  rm -f "$log"
  echo "debian13: root ready" >&2
fi

(($# > 0)) || exit 0

cp -L --remove-destination /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$checkout/build" "$root/var/lib/archiver-build" "$root$checkout"
if [[ -d "$shared" ]]; then mkdir -p "$root$shared"; else shared=""; fi
# The root's own /tmp, emptied at each start.
find "$root/tmp" -xdev -mindepth 1 -delete

env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
     LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
[[ -n "${TERM:-}" ]] && env+=("TERM=$TERM")
[[ -n "${CI:-}" ]] && env+=("CI=$CI")

# Runs as PID 1 of a new PID namespace: when it exits, the kernel kills whatever is left.
# The chrooted bash stays PID 1 (it reaps orphans, e.g. a daemonized Dovecot) and returns
# COMMAND's status; "exit $?" keeps bash from exec'ing COMMAND in its place.
# shellcheck disable=SC2016  # expanded by the inner shells
inner='set -euo pipefail
root=$1 checkout=$2 shared=$3 nenv=$4; shift 4
env=("${@:1:nenv}"); shift "$nenv"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --bind -o ro /sys "$root/sys"
mount --bind "$checkout" "$root$checkout"
mount --bind "$root/var/lib/archiver-build" "$root$checkout/build"
[[ -z "$shared" ]] || mount --bind -o ro "$shared" "$root$shared"
exec chroot "$root" /usr/bin/env -i "${env[@]}" /bin/bash -c '\''cd "$1" && shift && "$@"; exit $?'\'' bash "$checkout" "$@"'

# unshare ignores SIGINT/SIGTERM; if this script dies, --pdeathsig kills unshare, and
# --kill-child then the namespace's PID 1, which ends the whole namespace.
setpriv --pdeathsig KILL unshare --mount --propagation private --pid --kill-child \
  bash -c "$inner" inner "$root" "$checkout" "$shared" "${#env[@]}" "${env[@]}" "$@"
