#!/usr/bin/env bash
# Installs what is missing (Debian packages, as root: Debian 12 with Dovecot 2.3 or Debian 13
# with Dovecot 2.4) and builds dovecot-archiver for the Dovecot it finds into build/ (or
# $ARCHIVER_BUILD_DIR). Safe to run again: installs only what lacks.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${ARCHIVER_BUILD_DIR:-$here/build}"
build_type="${ARCHIVER_BUILD_TYPE:-RelWithDebInfo}"

packages=(build-essential cmake pkg-config python3 ca-certificates openssl procps file
          dovecot-core dovecot-imapd dovecot-lmtpd dovecot-dev dovecot-sieve
          liblmdb-dev lmdb-utils libssl-dev zlib1g-dev libxml2-dev libgtest-dev libzip-dev libdeflate-dev
          clang libclang-rt-dev strace)

missing=()
for package in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
echo "setup: built in $build_dir"
