#!/bin/sh
# Our executables (archiver-poller runs as root, archiver-dmarc-reader reads hostile mail)
# must find libraries only in absolute directories: an empty or relative RUNPATH element
# means the current directory, where whoever owns it could plant a library.
status=0
for binary in "$@"; do
  runpath=$(readelf -d "$binary" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]/\2/p')
  old_ifs=$IFS
  IFS=:
  set -f
  for element in $(printf '%s' "$runpath" | sed 's/^:/.:/; s/:$/:./; s/::/:.:/g'); do
    case "$element" in
      /*) ;;
      *) echo "FAIL: $binary: RUNPATH [$runpath] has a relative or empty element"; status=1 ;;
    esac
  done
  set +f
  IFS=$old_ifs
  echo "$binary: RUNPATH [$runpath]"
done
exit $status
