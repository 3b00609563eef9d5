"""Long walks over a real archive through doveadm: `archive verify` and `archive export` stop
on SIGTERM with exit 75 saying they were interrupted (export leaving whole messages), and
`archive export` of everything stays in bounded resident memory although it reads an archive larger than that (the archive is built by
bench/scale's builder, 20,000 deliveries, about 200 MB)."""

import os
import unittest
import signal
import subprocess
import time

import dovecot_instance as di
from archiver_test import BUILD_DIR, ArchiverTestCase

DELIVERIES = 20000
EXPORT_RSS_LIMIT = 64 << 20  # issue 16's target for export


def build_archive(instance):
    builder = os.path.join(BUILD_DIR, "bench", "scale", "archiver-scale-build")
    subprocess.run([builder, instance.archive_dir, "--deliveries", str(DELIVERIES),
                    "--map-size", str(1 << 30)], check=True, capture_output=True)
    for root, dirs, files in os.walk(instance.archive_dir):
        for name in [root] + [os.path.join(root, f) for f in dirs + files]:
            os.chown(name, di.MAIL_UID, di.MAIL_GID)


class ScanTest(ArchiverTestCase):
    instance_options = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(os.path.join(BUILD_DIR, "bench", "scale", "archiver-scale-build")):
            raise unittest.SkipTest("bench/scale's builder is not built")
        build_archive(cls.instance)

    def test_sigterm_stops_verify_cleanly(self):
        process = subprocess.Popen(self.instance.doveadm_command("archive", "verify"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=self.instance.env)
        time.sleep(1.0)
        self.assertIsNone(process.poll(), "verify finished within a second: nothing to stop")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
        self.assertLess(time.monotonic() - started, 10, "verify did not stop promptly")
        self.assertEqual(process.returncode, di.EX_TEMPFAIL, (stdout, stderr))
        self.assertIn(b"Verify interrupted by a termination signal", stderr)
        # It is whole again afterwards: nothing was left behind.
        self.assert_verify_ok(self.instance)

    def start_export(self, target):
        """`doveadm archive export` of everything into the mbox `target`, running."""
        os.makedirs(os.path.dirname(target), exist_ok=True)
        return subprocess.Popen(
            self.instance.doveadm_command("archive", "export", "--format", "mbox",
                                          "--output", target, fmt="tab"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.instance.env)

    def test_sigterm_stops_export_between_messages(self):
        target = os.path.join(self.instance.root, "stopped.mbox")
        process = self.start_export(target)
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline and \
                (not os.path.exists(target) or os.path.getsize(target) < 4 << 20):
            time.sleep(0.01)
        self.assertIsNone(process.poll(), "export finished before 4 MiB: nothing to stop")
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
        self.assertEqual(process.returncode, di.EX_TEMPFAIL, (stdout, stderr))
        self.assertIn(b"Export interrupted by a termination signal after", stderr)
        summary = dict(zip(*(line.split("\t") for line in stdout.decode().splitlines())))
        exported = int(summary["messages"])
        self.assertGreater(exported, 0)
        self.assertLess(exported, int(self.archive_stats(self.instance)["messages"]))
        with open(target, "rb") as f:
            data = f.read()
        # Whole messages only: as many From_ lines as messages said, and the file ends where
        # a message ends (mbox: an empty line after each).
        self.assertEqual(data.count(b"\nFrom ") + data.startswith(b"From "), exported)
        self.assertTrue(data.endswith(b"\n\n"), data[-80:])
        os.unlink(target)

    def test_export_of_everything_stays_in_bounded_memory(self):
        target = os.path.join(self.instance.root, "all.mbox")
        process = self.start_export(target)
        stdout = process.stdout.read()
        stderr = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, (stdout, stderr))
        summary = dict(zip(*(line.split("\t") for line in stdout.decode().splitlines())))
        stats = self.archive_stats(self.instance)
        self.assertEqual(summary["messages"], stats["messages"])
        self.assertEqual(summary["failed"], "0")
        data_size = os.path.getsize(os.path.join(self.instance.archive_dir, "data.mdb"))
        self.assertGreater(data_size, 2 * EXPORT_RSS_LIMIT, "the archive is too small to tell")
        self.assertLess(usage.ru_maxrss * 1024, EXPORT_RSS_LIMIT,
                        f"export's peak RSS for a {data_size >> 20} MiB archive")
        os.unlink(target)
