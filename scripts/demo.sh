#!/usr/bin/env bash
# The demo: a throwaway Dovecot with the archiver plugin, on free loopback ports in a temp dir;
# the sample messages in scripts/demo-mail/ delivered over LMTP (one to three recipients), two of
# them DMARC aggregate reports (gzip and ZIP attachments) to the report address
# dmarc@example.org; then `doveadm archive list` and `stats`, `doveadm dmarc list` and
# `summary`; then Dovecot is stopped and the temp dir removed. Usage (as root, after scripts/setup.sh): scripts/demo.sh [BUILD_DIR]  (default: build)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-$here/build}"
if [[ ! -d "$build_dir" ]]; then
  echo "demo: build dir '$build_dir' not found; build first: bash scripts/setup.sh" >&2
  exit 1
fi
build_dir="$(cd "$build_dir" && pwd)"

exec python3 - "$here" "$build_dir" <<'PYTHON'
import hashlib
import os
import sys

repo, build_dir = sys.argv[1:3]
sys.path.insert(0, os.path.join(repo, "tests", "integration"))
import dovecot_instance as di  # the integration tests' harness

MAIL_DIR = os.path.join(repo, "scripts", "demo-mail")
# (file, envelope sender, envelope recipients): the last one is one LMTP transaction for three.
DELIVERIES = [
    ("01-welcome.eml", "helpdesk@example.org", ["alice@example.org"]),
    ("02-reunion.eml", "zelie@example.net", ["bob@example.org"]),
    ("03-invoice.eml", "billing@supplier.example.com", ["carol@example.org"]),
    ("04-newsletter.eml", "news-bounces@lists.example.org",
     ["alice@example.org", "bob+news@example.org", "carol@example.org"]),
    ("05-dmarc-google.eml", "noreply-dmarc-support@google.com", ["dmarc@example.org"]),
    ("06-dmarc-yahoo.eml", "dmarchelp@yahooinc.com", ["dmarc@example.org"]),
]
# Deliveries to this address are DMARC reports: parsed at delivery, archived as usual.
SETTINGS = {"archiver_dmarc_mailboxes": "dmarc@example.org"}

problem = di.environment_problem() or di.plugin_problem(build_dir)
if problem:
    sys.exit(f"demo: {problem}")


def run(*args):
    print(f"\n$ doveadm -c {instance.config_path} {' '.join(args)}", flush=True)
    result = instance.doveadm(*args)
    sys.stdout.buffer.write(result.stdout)
    sys.stdout.flush()
    if result.returncode != 0:
        sys.exit(f"demo: doveadm {' '.join(args)} failed ({result.returncode}): "
                 f"{result.stderr.decode(errors='replace')}")
    return result.stdout


instance = di.DovecotInstance(build_dir, name="archiver-demo", settings=SETTINGS,
                             users=di.DEFAULT_USERS + ("dmarc",))
try:
    instance.start()
    print(f"Dovecot {instance.name} is running in {instance.root}\n"
          f"  LMTP 127.0.0.1:{instance.lmtp_port}, IMAP 127.0.0.1:{instance.imap_port}, "
          f"archive {instance.archive_dir}\n")
    sent = {}
    with instance.lmtp() as client:
        for name, sender, rcpts in DELIVERIES:
            with open(os.path.join(MAIL_DIR, name), "rb") as f:
                message = di.to_wire(f.read())
            result = client.send(sender, rcpts, message, body="8BITMIME")
            if not result.all_delivered():
                sys.exit(f"demo: delivery of {name} failed: {result}{instance.log_tail()}")
            sent[name] = message
            print(f"delivered {name:20} {len(message):5} bytes from <{sender}> to "
                  + ", ".join(f"<{r}>" for r in rcpts))

    run("-f", "table", "archive", "list")
    run("-f", "table", "archive", "stats")
    run("-f", "table", "dmarc", "list")
    run("-f", "table", "dmarc", "summary", "--domain", "example.org")
    reports = instance.doveadm_json("dmarc", "list")
    if len(reports) != 2:
        sys.exit(f"demo: expected the 2 DMARC reports delivered, found {len(reports)}"
                 f"{instance.log_tail()}")

    newsletter = sent["04-newsletter.eml"]
    message_id = hashlib.sha256(newsletter).hexdigest()
    fetched = instance.doveadm("archive", "fetch", message_id).stdout
    print(f"\n$ doveadm archive fetch {message_id[:12]}  -> "
          + ("the exact bytes delivered" if fetched == newsletter else "DIFFERENT BYTES"))
    if fetched != newsletter:
        sys.exit("demo: the archive did not return the message as delivered")
finally:
    instance.cleanup()
print("\nDovecot stopped, temp dir removed.")
PYTHON
