#!/usr/bin/env bash
# The .deb, as an administrator meets it: built from this tree (cpack), installed with apt-get
# into a fresh Debian root of this machine's release (debootstrap), Dovecot started there with
# Debian's stock configuration plus our settings file, the test setting only archiver_path (and,
# on 2.3, mail_plugins, which the 2.3 file leaves to the admin); one message delivered over LMTP
# to a system user, listed with `doveadm archive list`; then Dovecot stopped, the package purged,
# and Dovecot must start and deliver again without it.
# Usage: package_test.sh BUILD_DIR. Exits 77 (skipped) when not root or without debootstrap's
# mirror; needs network access to Debian's package mirror.
set -euo pipefail
build_dir="$(cd "$1" && pwd)"
mirror=http://deb.debian.org/debian
[[ $(id -u) -eq 0 ]] || { echo "package test: needs root (debootstrap, chroot): skipped"; exit 77; }
. /etc/os-release
[[ -n "${VERSION_CODENAME:-}" ]] || { echo "package test: unknown Debian release: skipped"; exit 77; }

(cd "$build_dir" && rm -f dovecot-archiver_*.deb && cpack -G DEB >/dev/null)
deb="$(ls "$build_dir"/dovecot-archiver_*.deb)"
echo "package test: $(basename "$deb") in a fresh Debian $VERSION_CODENAME root"

if ! command -v debootstrap >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
work="$(mktemp -d /var/tmp/archiver-package-XXXXXX)"
trap 'rm -rf --one-file-system "$work"' EXIT
root="$work/root"
# A private mount namespace; inside a chroot whose / is no mount point (our Debian 13 lane,
# already in a private namespace) unshare cannot make / private and leaves it as it is.
unshare_private=(unshare --mount)
unshare --mount true 2>/dev/null || unshare_private=(unshare --mount --propagation unchanged)
if ! "${unshare_private[@]}" debootstrap --variant=minbase "$VERSION_CODENAME" "$root" "$mirror" \
     >"$work/debootstrap.log" 2>&1; then
  tail -5 "$work/debootstrap.log"
  echo "package test: debootstrap $VERSION_CODENAME failed (mirror unreachable?)"
  exit 1
fi
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/archiver.deb"

# Inside the root: install, configure, start. Prints the LMTP socket's path when ready.
cat >"$root/tmp/inside.sh" <<'INSIDE'
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends dovecot-lmtpd /tmp/archiver.deb >/tmp/apt.log 2>&1 ||
  { tail -20 /tmp/apt.log; exit 1; }
useradd -m alice
install -d -m 0700 -o alice -g alice /var/lib/dovecot-archive
if dovecot --version | grep -q '^2\.3'; then
  printf 'mail_plugins = $mail_plugins archiver\nplugin {\n  archiver_path = /var/lib/dovecot-archive\n  archiver_dmarc_mailboxes = alice/INBOX\n}\n' \
    >/etc/dovecot/local.conf
else
  printf 'archiver_path = /var/lib/dovecot-archive\narchiver_dmarc_mailboxes = alice/INBOX\n' \
    >/etc/dovecot/local.conf
fi
dovecot
INSIDE

cat >"$work/run.sh" <<'RUN'
set -euo pipefail
root=$1 deb_name=$2
mount -t proc proc "$root/proc"
chroot "$root" bash /tmp/inside.sh
deliver() {  # deliver SUBJECT: one LMTP transaction to alice over the stock unix socket
  python3 - "$root/run/dovecot/lmtp" "$1" <<'PY'
import smtplib, sys, time
for _ in range(100):
    try:
        client = smtplib.LMTP(sys.argv[1]); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("no LMTP socket")
message = f"From: bob@example.net\r\nTo: alice\r\nSubject: {sys.argv[2]}\r\n\r\nHello.\r\n"
if sys.argv[2] == "dmarc report":  # an aggregate report, read by the installed reader
    xml = ("<feedback><report_metadata><org_name>Package Org</org_name><email>r@example.net"
           "</email><report_id>package-1</report_id><date_range><begin>1714521600</begin>"
           "<end>1714607999</end></date_range></report_metadata><policy_published><domain>"
           "package.example</domain><p>none</p></policy_published><record><row><source_ip>"
           "192.0.2.1</source_ip><count>1</count><policy_evaluated><disposition>none"
           "</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>"
           "<identifiers><header_from>package.example</header_from></identifiers>"
           "<auth_results><spf><domain>package.example</domain><result>pass</result></spf>"
           "</auth_results></record></feedback>")
    message = ("From: r@example.net\r\nTo: alice\r\nSubject: Report domain: package.example"
               "\r\nContent-Type: application/xml; name=report.xml\r\n\r\n" + xml + "\r\n")
refused = client.sendmail("bob@example.net", ["alice"], message)
client.quit()
sys.exit(f"refused: {refused}" if refused else 0)
PY
}
deliver "package test"
listing="$(chroot "$root" doveadm -f tab archive list)"
echo "$listing"
grep -q "package test" <<<"$listing" || { echo "FAIL: not archived"; exit 1; }
deliver "dmarc report"
for _ in $(seq 60); do  # the reader goes on after the delivery's wait (1s)
  reports="$(chroot "$root" doveadm -f tab dmarc list)"
  grep -q "package.example" <<<"$reports" && break
  sleep 0.5
done
echo "$reports"
grep -q "package.example" <<<"$reports" || { echo "FAIL: report not read by the installed reader"; exit 1; }
chroot "$root" doveadm stop
chroot "$root" bash -c 'apt-get purge -y -qq dovecot-archiver >/tmp/purge.log 2>&1 || { tail /tmp/purge.log; exit 1; }'
for path in /usr/lib/dovecot/modules/lib90_archiver_plugin.so /etc/dovecot/conf.d/90-archiver.conf \
            /usr/lib/dovecot/archiver-poller /usr/lib/dovecot/archiver-dmarc-reader; do
  [[ ! -e "$root$path" ]] || { echo "FAIL: $path left after purge"; exit 1; }
done
# Without the package, the admin's own lines for it go too; Dovecot must work as before.
rm -f "$root/etc/dovecot/local.conf"
chroot "$root" dovecot
deliver "after purge"
chroot "$root" doveadm stop
grep -q "after purge" "$root/var/mail/alice" || { echo "FAIL: no delivery after purge"; exit 1; }
echo "package test: installed, delivered, archived, listed, purged: ok"
RUN
# A PID namespace: Dovecot and everything it started end with the test.
"${unshare_private[@]}" --pid --fork --kill-child bash "$work/run.sh" "$root" "$(basename "$deb")"
