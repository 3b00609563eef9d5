"""Shared base for the integration tests: skip rules, instance lifetime, and the checks every test
makes through our real `doveadm archive` commands (never by reading the archive ourselves)."""

import hashlib
import json
import os
import re
import sys
import time
import unittest
import uuid
from email.utils import formatdate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot_instance as di  # noqa: E402  (the path must be set first)

BUILD_DIR = di.build_dir_from_env()
SENDER = "sender@example.net"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def make_message(subject="Test message", body="Hello.\r\n", *, sender="Sender <sender@example.net>",
                 to="alice@example.org", cc=None, extra_headers=(), charset="us-ascii",
                 encoding="7bit", content_type=None):
    """A small RFC 5322 message in wire form (CRLF), unique through its Message-ID. `subject` and
    `body` are str (encoded as UTF-8) or bytes (used as given); content_type replaces the
    default text/plain with `charset`."""
    def encode(value):
        return value.encode() if isinstance(value, str) else value

    headers = [b"From: " + encode(sender), b"To: " + encode(to)]
    if cc:
        headers.append(b"Cc: " + encode(cc))
    headers += [
        b"Subject: " + encode(subject),
        b"Date: " + formatdate(localtime=True).encode(),
        b"Message-ID: <" + uuid.uuid4().hex.encode() + b"@example.net>",
        b"MIME-Version: 1.0",
        b"Content-Type: " + (content_type or f"text/plain; charset={charset}").encode(),
        b"Content-Transfer-Encoding: " + encoding.encode(),
        *(encode(h) for h in extra_headers),
    ]
    return b"".join(h + b"\r\n" for h in headers) + b"\r\n" + encode(body)


class ArchiverTestCase(unittest.TestCase):
    """Skips cleanly when a real instance cannot run here (not root); fails when the plugin is
    missing from the build dir. On a failed test the instance's log is printed.

    A class that sets `instance_options` (a dict for DovecotInstance) shares one instance,
    `self.instance`, among its tests; such tests must not depend on global archive counts."""

    maxDiff = 4000
    instance_options = None

    @classmethod
    def setUpClass(cls):
        problem = di.environment_problem()
        if problem:
            raise unittest.SkipTest(problem)
        problem = di.plugin_problem(BUILD_DIR)
        if problem:
            raise RuntimeError(problem)
        if cls.instance_options is not None:
            cls.instance = di.DovecotInstance(BUILD_DIR, **cls.instance_options)
            cls.addClassCleanup(cls.instance.cleanup)
            cls.instance.start()

    def setUp(self):
        if self.instance_options is not None:
            self.watch_log(self.instance, len(self.instance.log_text()))

    def start_instance(self, before_start=None, **options):
        """A started instance of its own, stopped and removed when the test ends. before_start,
        if given, is called with the instance after its temp dir exists and before it starts."""
        instance = di.DovecotInstance(BUILD_DIR, **options)
        self.addCleanup(instance.cleanup)
        self.watch_log(instance, 0)
        if before_start:
            before_start(instance)
        instance.start()
        return instance

    def assert_refused_at_start(self, settings, setting, value, shown=None):
        """Dovecot 2.4 checks our settings when it loads its configuration. With `settings`
        (an invalid `setting = value` among them) doveconf exits non-zero and Dovecot does not
        start, each naming the setting and the value. dovecot-lda reads the configuration file
        itself: run while Dovecot still runs with an earlier valid configuration (an
        administrator's edit not yet reloaded), it delivers nothing, fails and names them too.
        (2.3 reads plugin settings per user: there the user's deliveries fail instead.)
        `shown`: the value as the error names it, when Dovecot normalised it (sizes)."""
        instance = di.DovecotInstance(BUILD_DIR, settings=settings)
        self.addCleanup(instance.cleanup)
        named = rf"\b{re.escape(setting)}\b.*{re.escape(shown or value)}"
        doveconf = instance.doveconf("-n")
        self.assertNotEqual(doveconf.returncode, 0, f"doveconf accepted {setting} = {value}")
        self.assertRegex(doveconf.stderr, named)
        with self.assertRaises(RuntimeError, msg=f"Dovecot started with {setting} = {value}") \
                as refused:
            instance.start()
        self.assertRegex(str(refused.exception), named)

        instance.restart(settings={})
        self.watch_log(instance, len(instance.log_text()))
        instance.configure(settings=settings)
        instance.write_config()
        log_offset = len(instance.log_text())
        process = instance.lda("bob", make_message(f"Invalid {setting}", "x\r\n"),
                               sender=SENDER, rcpt="bob@example.org")
        stderr = process.stderr.decode(errors="replace")
        # Dovecot exits 89 when its own parser refuses a value (a typed setting), and 75 (as
        # any fatal error of dovecot-lda) when our check refuses it while reading settings.
        self.assertNotEqual(process.returncode, 0, stderr)
        self.assertEqual(instance.maildir_messages("bob"), [])
        if not re.search(named, stderr):
            self.wait_for_log(instance, named, log_offset)

    def watch_log(self, instance, log_offset):
        """When the test ends: fail it on a sanitizer report in the instance's log from
        log_offset on (the asan preset), then print that part of the log if it failed."""
        self.addCleanup(self._print_log_on_failure, instance, log_offset)
        self.addCleanup(self._fail_on_sanitizer_reports, instance, log_offset)

    def _fail_on_sanitizer_reports(self, instance, log_offset):
        reports = di.sanitizer_reports(instance.log_text()[log_offset:])
        if reports:
            self.fail("sanitizer errors in Dovecot processes:\n" + "\n".join(reports[:20]))

    def _failed(self):
        """Whether this test has failed so far (cleanups run before the result is final)."""
        result = getattr(getattr(self, "_outcome", None), "result", None)
        problems = (result.failures + result.errors) if result is not None else []
        return any(getattr(test, "test_case", test) is self for test, _ in problems)

    def _print_log_on_failure(self, instance, log_offset):
        if self._failed():
            sys.stderr.write(f"\n[{self.id()}] instance {instance.root}, config "
                             f"{instance.config_path}, log {instance.log_path} from offset "
                             f"{log_offset}:\n{instance.log_text()[log_offset:][-8000:]}\n")

    def wait_for_log(self, instance, pattern, log_offset=0, timeout=10):
        """The first match of the regex `pattern` in the instance's log from log_offset on,
        waiting up to `timeout` seconds for Dovecot's log process to write it; fails the test
        when it does not appear."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, instance.log_text()[log_offset:])
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertIsNotNone(found, f"{pattern!r} not in the log of {instance.log_path}")
        return found

    # --- delivery ----------------------------------------------------------------------------

    def deliver_ok(self, instance, rcpts, message, sender=SENDER, **kwargs):
        """Deliver over LMTP and require every recipient to be accepted after DATA."""
        result = instance.deliver(sender, rcpts, message, **kwargs)
        self.assertTrue(result.all_delivered(), f"LMTP delivery failed: {result}")
        return result

    def lda_ok(self, instance, user, message, **kwargs):
        process = instance.lda(user, message, **kwargs)
        self.assertEqual(process.returncode, 0,
                         f"dovecot-lda failed: {process.stderr.decode(errors='replace')}")
        return process

    # --- doveadm archive ---------------------------------------------------------------------

    def doveadm_rows(self, instance, *args):
        """Rows of `doveadm -f json ARGS…`, requiring exit 0."""
        result = instance.doveadm(*args, fmt="json")
        self.assertEqual(result.returncode, 0,
                         f"doveadm {' '.join(map(str, args))} exited "
                         f"{result.returncode}: {result.stderr.decode(errors='replace')}")
        text = result.stdout.decode()
        return json.loads(text) if text.strip() else []

    def archive_rows(self, instance, command, *args):
        """Rows of `doveadm -f json archive COMMAND ARGS…`, requiring exit 0."""
        return self.doveadm_rows(instance, "archive", command, *args)

    def archive_list(self, instance, *filters):
        rows = self.archive_rows(instance, "list", *filters)
        for row in rows:
            self.assertRegex(row["id"], r"^[0-9a-f]{64}$")
            self.assertRegex(row["received"], ISO_UTC)
        return rows

    def archive_stats(self, instance, *args):
        rows = self.archive_rows(instance, "stats", *args)
        self.assertEqual(len(rows), 1, rows)
        return rows[0]

    def fetch(self, instance, message_id, *options):
        """`doveadm archive fetch` output, requiring exit 0."""
        result = instance.doveadm("archive", "fetch", *options, message_id)
        self.assertEqual(result.returncode, 0,
                         f"fetch {message_id} exited {result.returncode}: "
                         f"{result.stderr.decode(errors='replace')}")
        return result.stdout

    def assert_fetch_exact(self, instance, expected, *options):
        """The archive holds `expected` under id SHA-256(expected) and fetch returns it exactly."""
        message_id = sha256(expected)
        fetched = self.fetch(instance, message_id, *options)
        self.assertEqual(sha256(fetched), message_id,
                         f"fetch returned {len(fetched)} bytes, sent {len(expected)}; first "
                         f"difference at byte {_first_difference(fetched, expected)}")

    # --- doveadm dmarc -----------------------------------------------------------------------

    def dmarc_rows(self, instance, command, *args):
        """Rows of `doveadm -f json dmarc COMMAND ARGS…`, requiring exit 0."""
        return self.doveadm_rows(instance, "dmarc", command, *args)

    def assert_verify_ok(self, instance, *args):
        result = instance.doveadm("archive", "verify", *args)
        self.assertEqual(result.returncode, 0,
                         f"verify exited {result.returncode}: {result.stdout!r} {result.stderr!r}")


def _first_difference(a, b):
    for index, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return index
    return min(len(a), len(b))
