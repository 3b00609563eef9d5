"""The archiver-poller service: the shipped `service archiver-poller` block enabled in a local
instance whose sources live on a second instance (the remote). With nobody running doveadm, a
new source is imported by the service, mail arriving later is archived within the source's
interval and not before, the service's lines are in Dovecot's log, and a killed poller is
started again by Dovecot's master. Where sources cannot be used the service is harmless: with
no source its runs create and log nothing; without a server-wide archiver_path it logs one line
and stays idle; and the harness's poller=False instances do not run it at all."""

import json
import os
import re
import signal
import time
import unittest

import archiver_test as at
from archiver_test import ArchiverTestCase, di, make_message

REMOTE_PASSWORD = "p0ller-Remote-Pw-3c9d"
# The shortest interval a source accepts (the core's SourceConfig validation).
SOURCE_INTERVAL = 60
POLL_INTERVAL = 2


class PollerTest(ArchiverTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.access(di.poller_executable(at.BUILD_DIR), os.X_OK):
            raise RuntimeError(f"archiver-poller not built in {at.BUILD_DIR}")
        cls.remote = di.DovecotInstance(None, plugin=False, users=("rita",),
                                        name="archiver-poller-remote", password=REMOTE_PASSWORD)
        cls.addClassCleanup(cls.remote.cleanup)
        cls.remote.start()
        cls.local = di.DovecotInstance(
            at.BUILD_DIR, name="archiver-poller", poller=True,
            settings={"archiver_sources_poll_interval": f"{POLL_INTERVAL}s"})
        cls.addClassCleanup(cls.local.cleanup)
        cls.local.start()

    def setUp(self):
        self.log_offset = len(self.local.log_text())
        self.watch_log(self.local, self.log_offset)

    # --- helpers -----------------------------------------------------------------------------

    def deliver_remote(self, subjects):
        for subject in subjects:
            self.deliver_ok(self.remote, [f"rita@{di.DOMAIN}"],
                            make_message(subject, "Hello.\r\n", to=f"rita@{di.DOMAIN}"))

    def archived(self, prefix):
        return sorted(row["subject"] for row in self.archive_list(self.local)
                      if row["subject"].startswith(prefix))

    def wait_archived(self, prefix, expected, timeout):
        deadline = time.monotonic() + timeout
        while self.archived(prefix) != expected and time.monotonic() < deadline:
            time.sleep(0.5)
        self.assertEqual(self.archived(prefix), expected)

    def source_row(self, name):
        result = self.local.doveadm("archive", "source", "list", fmt="json")
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
        rows = json.loads(result.stdout.decode() or "[]")
        return next(row for row in rows if row["name"] == name)

    def poller_pids(self):
        return poller_pids(self.local)

    def wait_poller_pids(self, timeout, exclude=()):
        deadline = time.monotonic() + timeout
        while True:
            pids = [pid for pid in self.poller_pids() if pid not in exclude]
            if pids or time.monotonic() > deadline:
                return pids
            time.sleep(0.2)

    # --- tests -------------------------------------------------------------------------------

    def test_a_sources_synced_by_the_service_within_their_interval(self):
        self.wait_for_log(self.local, r"archiver-poller: Info: Polling remote sources every "
                                      rf"{POLL_INTERVAL} s")
        self.deliver_remote(["poll-0", "poll-1"])
        add = self.local.doveadm(
            "archive", "source", "add", "--host", "127.0.0.1", "--port", self.remote.imap_port,
            "--user", "rita", "--tls", "none", "--password-stdin", "--interval",
            f"{SOURCE_INTERVAL}s", "poll-src", input=REMOTE_PASSWORD.encode() + b"\n")
        self.assertEqual(add.returncode, 0, add.stderr.decode(errors="replace"))
        added = time.monotonic()
        # A new source is due at once: the next poll imports it.
        self.wait_archived("poll-", ["poll-0", "poll-1"], timeout=4 * POLL_INTERVAL + 10)
        self.assertEqual(self.source_row("poll-src")["status"], "active")
        self.wait_for_log(self.local, r"archiver-poller: Info: source synced: name=poll-src, "
                                      r"status=active, archived=2", self.log_offset)
        self.wait_for_log(self.local, r"archiver-poller: Info: sync --due: 1 source\(s\) synced, "
                                      r"2 message\(s\) archived, 0 failed \(exit 0",
                          self.log_offset)

        # Mail arriving now waits for the source's interval, then comes by itself.
        self.deliver_remote(["poll-2"])
        time.sleep(3 * POLL_INTERVAL)
        self.assertLess(time.monotonic() - added, SOURCE_INTERVAL - 5)
        self.assertEqual(self.archived("poll-"), ["poll-0", "poll-1"])
        self.wait_archived("poll-", ["poll-0", "poll-1", "poll-2"],
                           timeout=SOURCE_INTERVAL + 4 * POLL_INTERVAL + 10)
        self.assertGreaterEqual(time.monotonic() - added, SOURCE_INTERVAL - POLL_INTERVAL)
        # Exactly one sync per due source: the runs in between logged nothing. (The second
        # sync's line may reach the log after its mail reached the archive.)
        self.wait_for_log(self.local, r"(?s)source synced: name=poll-src.*"
                                      r"source synced: name=poll-src", self.log_offset)
        syncs = re.findall(r"source synced: name=poll-src",
                           self.local.log_text()[self.log_offset:])
        self.assertEqual(len(syncs), 2)
        self.assertNotIn(REMOTE_PASSWORD, self.local.log_text())

    def test_b_killed_poller_is_restarted_by_master(self):
        pids = self.wait_poller_pids(10)
        self.assertEqual(len(pids), 1, "process_limit = 1: one poller")
        os.kill(pids[0], signal.SIGKILL)
        # Dovecot's master throttles restarts after a failure: allow it a while.
        restarted = self.wait_poller_pids(45, exclude=pids)
        self.assertEqual(len(restarted), 1, "the master did not start a new poller")
        self.wait_for_log(self.local, r"archiver-poller: Info: Polling remote sources",
                          self.log_offset, timeout=10)
        self.wait_for_log(self.local, rf"service\(archiver-poller\).*{pids[0]}.*signal 9",
                          self.log_offset, timeout=1)


class PollerWithoutSourcesTest(ArchiverTestCase):

    def setUp(self):
        if not os.access(di.poller_executable(at.BUILD_DIR), os.X_OK):
            raise RuntimeError(f"archiver-poller not built in {at.BUILD_DIR}")

    def poller_lines(self, instance):
        """The poller's own log lines and the master's about it."""
        return [line for line in instance.log_text().splitlines()
                if "archiver-poller: " in line or "service(archiver-poller)" in line]

    def test_no_source_creates_and_logs_nothing(self):
        # An archive directory that exists (empty, the mail user's) and one that does not.
        for missing in (False, True):
            with self.subTest(archive_dir_missing=missing):
                def no_archive(instance):
                    instance.configure(settings={
                        "archiver_sources_poll_interval": "1s",
                        "archiver_path": os.path.join(instance.root, "none", "archive")})
                instance = self.start_instance(
                    name="archiver-poller-idle", poller=True,
                    settings={"archiver_sources_poll_interval": "1s"},
                    before_start=no_archive if missing else None)
                archive = instance.settings["archiver_path"]
                self.wait_for_log(instance, r"archiver-poller: Info: Polling remote sources "
                                            r"every 1 s")
                self.assertEqual(len(poller_pids(instance)), 1)
                time.sleep(3.5)  # the first poll runs at start, then one a second
                def assert_nothing_created():
                    if missing:
                        self.assertFalse(os.path.exists(os.path.dirname(archive)))
                    else:
                        self.assertEqual(os.listdir(archive), [])
                assert_nothing_created()
                lines = self.poller_lines(instance)
                self.assertEqual(len(lines), 1, "\n".join(lines))
                self.assertNotIn("Error", instance.log_text())
                # What each run did, run by hand: exit 0, nothing printed, nothing created
                # (the tab formatter, which the poller reads, ends its empty header line).
                for fmt, stdout in ((None, b""), ("tab", b"\n")):
                    result = instance.doveadm("archive", "source", "sync", "--due", fmt=fmt)
                    self.assertEqual((result.returncode, result.stdout, result.stderr),
                                     (0, stdout, b""), fmt)
                assert_nothing_created()

    def test_user_dependent_archive_path_logs_once_and_stays_idle(self):
        def per_user(instance):
            instance.configure(settings={
                "archiver_sources_poll_interval": "1s",
                "archiver_path": os.path.join(instance.root, "per-user",
                                              di.user_variable("user"))})
        instance = self.start_instance(name="archiver-poller-peruser", poller=True,
                                       before_start=per_user)
        path = re.escape(instance.settings["archiver_path"])
        self.wait_for_log(instance, r"archiver-poller: Info: No server-wide archiver_path "
                                    rf"\(archiver_path = {path} depends on the user\): "
                                    r"remote sources disabled")
        pids = poller_pids(instance)
        self.assertEqual(len(pids), 1)
        time.sleep(4)  # four poll intervals
        self.assertEqual(poller_pids(instance), pids, "the poller exited or was restarted")
        lines = self.poller_lines(instance)
        self.assertEqual(len(lines), 1, "\n".join(lines))
        self.assertFalse(os.path.exists(os.path.join(instance.root, "per-user")))

    def test_harness_instances_without_poller_do_not_run_it(self):
        instance = self.start_instance(name="archiver-poller-off")
        time.sleep(1)
        self.assertEqual(poller_pids(instance), [])
        self.assertEqual(self.poller_lines(instance), [])


class PollerSettingsTest(ArchiverTestCase):

    def test_invalid_poll_interval_is_logged_with_setting_and_value(self):
        if not os.access(di.poller_executable(at.BUILD_DIR), os.X_OK):
            raise RuntimeError(f"archiver-poller not built in {at.BUILD_DIR}")
        if di.DOVECOT_24:
            # 2.4 checks the value when it loads the configuration, before any poller runs.
            self.assert_refused_at_start({"archiver_sources_poll_interval": "0s"},
                                         "archiver_sources_poll_interval", "0s")
            return
        instance = self.start_instance(
            name="archiver-poller-bad", poller=True,
            settings={"archiver_sources_poll_interval": "0s"})
        self.wait_for_log(instance, r"archiver-poller: Fatal: archiver_sources_poll_interval = "
                                    r"0s: must be between 1 second and 1 day", timeout=15)


def poller_pids(instance):
    """Processes titled "dovecot-INSTANCE/archiver-poller…" (Dovecot's process titles)."""
    return [pid for pid in instance._child_pids()
            if _cmdline(pid).startswith(f"dovecot-{instance.name}/archiver-poller")]


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


if __name__ == "__main__":
    unittest.main()
