"""A damaged archive: one byte flipped inside a stored message in data.mdb is found by `verify`
(non-zero, naming the id) and makes `fetch` fail with a Corruption error instead of wrong bytes."""

import os
import unittest
import uuid

import dovecot_instance as di
from archiver_test import ArchiverTestCase, make_message, sha256


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


if __name__ == "__main__":
    unittest.main()
