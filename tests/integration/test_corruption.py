"""A damaged archive: one byte flipped inside a stored message in data.mdb is found by `verify`
(non-zero, naming the id) and makes `fetch` fail with a Corruption error instead of wrong bytes.
A damaged statistics counter does not stop deliveries; verify reports it, `repair` recounts it."""

import os
import subprocess
import unittest
import uuid

import dovecot_instance as di
from archiver_test import BUILD_DIR, ArchiverTestCase, make_message, sha256


class CorruptionTest(ArchiverTestCase):

    def test_flipped_byte_is_detected(self):
        # Uncompressed, so the marker is findable in data.mdb.
        instance = self.start_instance(settings={"archiver_compression": "none"})
        marker = f"MARKER-{uuid.uuid4().hex}".encode()
        damaged = make_message("To be damaged", b"Payload " + marker + b" end.\r\n")
        intact = make_message("Left intact", "Nothing to see.\r\n")
        self.deliver_ok(instance, ["alice@example.org"], damaged)
        self.deliver_ok(instance, ["bob@example.org"], intact)
        self.assert_verify_ok(instance)
        instance.stop()  # no process holds the environment while we edit the file

        data_file = os.path.join(instance.archive_dir, "data.mdb")
        with open(data_file, "r+b") as f:
            data = bytearray(f.read())
            offsets = []
            start = data.find(marker)
            while start != -1:
                offsets.append(start)
                start = data.find(marker, start + 1)
            self.assertTrue(offsets, "message body not found uncompressed in data.mdb "
                                     "(archiver_compression = none ignored?)")
            for offset in offsets:
                position = offset + len(marker) - 1
                data[position] ^= 0x01
                f.seek(position)
                f.write(bytes([data[position]]))

        damaged_id, intact_id = sha256(damaged), sha256(intact)
        result = instance.doveadm("archive", "verify")
        self.assertNotEqual(result.returncode, 0, result)
        self.assertEqual(result.returncode, di.EX_DATAERR, result)
        report = (result.stdout + result.stderr).decode()
        self.assertIn(damaged_id, report)
        self.assertNotIn(intact_id, report)

        result = instance.doveadm("archive", "fetch", damaged_id)
        self.assertNotEqual(result.returncode, 0, "fetch of a damaged message must fail")
        self.assertEqual(result.stdout, b"", "no bytes of a damaged message are returned")
        self.assertIn("corrupt", result.stderr.decode().lower())
        self.assertIn(damaged_id, result.stderr.decode())

        self.assert_fetch_exact(instance, intact)

    def test_damaged_counter_blocks_nothing_and_is_repaired(self):
        instance = self.start_instance()
        for subject in ("one", "two"):
            self.deliver_ok(instance, ["alice@example.org"], make_message(subject, "x\r\n"))
        tool = os.path.join(BUILD_DIR, "tests", "archiver-test-set-meta")
        subprocess.run([tool, instance.archive_dir, "messages", "bad"], check=True)
        # Deliveries go on (they failed with 451 while the counter was unreadable).
        self.deliver_ok(instance, ["bob@example.org"], make_message("three", "x\r\n"))
        stats = instance.doveadm("archive", "stats")
        self.assertEqual(stats.returncode, di.EX_DATAERR, stats)
        self.assertIn(b"doveadm archive repair", stats.stderr)
        verify = instance.doveadm("archive", "verify")
        self.assertEqual(verify.returncode, di.EX_DATAERR, verify)
        self.assertIn("statistics counter 'messages' is damaged",
                      (verify.stdout + verify.stderr).decode())
        rows = {row["counter"]: row for row in self.archive_rows(instance, "repair")}
        self.assertEqual((rows["messages"]["before"], rows["messages"]["after"],
                          rows["messages"]["result"]), ("damaged", "3", "repaired"))
        self.assertEqual((rows["deliveries"]["after"], rows["deliveries"]["result"]), ("3", "ok"))
        self.assert_verify_ok(instance)
        self.assertEqual(self.archive_stats(instance)["messages"], "3")
        # Root's repair left the archive's files to its owner: deliveries still work.
        for name in ("data.mdb", "lock.mdb"):
            self.assertEqual(os.stat(os.path.join(instance.archive_dir, name)).st_uid,
                             di.MAIL_UID, name)
        self.deliver_ok(instance, ["carol@example.org"], make_message("four", "x\r\n"))
        rows = self.archive_rows(instance, "repair")
        self.assertEqual({row["result"] for row in rows}, {"ok"})

    def test_repair_never_creates_an_archive(self):
        instance = self.start_instance()
        result = instance.doveadm("archive", "repair")
        self.assertEqual(result.returncode, di.EX_NOINPUT, result)
        self.assertFalse(os.path.exists(os.path.join(instance.archive_dir, "data.mdb")))


if __name__ == "__main__":
    unittest.main()
