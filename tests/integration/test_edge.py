"""Messages of unusual shape, where telling Dovecot's prepended trace headers (Return-Path,
Delivered-To, its Received) from the message itself is hardest: no headers, headers only, a
message already carrying another Dovecot's trace headers, bare LF or CR line ends over BDAT, an
envelope sender that looks like a Received date. Each must be fetched byte for byte, with one
recipient (Dovecot adds Delivered-To) and with two (it does not)."""

import unittest

from archiver_test import SENDER, ArchiverTestCase, make_message, sha256

FOREIGN_TRACE = (b"Return-Path: <list-bounces@example.com>\r\n"
                 b"Delivered-To: alice@example.org\r\n"
                 b"Received: from relay.example.com ([192.0.2.7])\r\n"
                 b"\tby mx.example.org with LMTP\r\n"
                 b"\tid 4mVtBc1eAmu1AQAAg+zDdQ\r\n"
                 b"\t(envelope-from <list-bounces@example.com>)\r\n"
                 b"\tfor <alice@example.org>; Sun, 22 Nov 2026 01:00:00 +0000\r\n")

# (name, message with a TAG placeholder that keeps the variants' ids apart, BDAT chunk size or
# None for DATA)
SHAPES = [
    ("no_headers", b"Just one line of text, no header at all: TAG\r\n", None),
    ("empty_first_line", b"\r\nA body without any header: TAG\r\n", None),
    ("headers_only", b"Subject: only a header, no blank line: TAG\r\n", None),
    ("foreign_dovecot_trace", FOREIGN_TRACE + b"Subject: delivered before, forwarded: TAG\r\n"
                                              b"\r\nBody.\r\n", None),
    ("trace_lookalikes_only", FOREIGN_TRACE + b"X-Tag: TAG\r\n\r\n", None),
    ("long_first_header", b"X-Long: " + b"x" * 3000 + b"\r\nSubject: TAG\r\n\r\nBody.\r\n",
     None),
    ("bare_lf_over_bdat", b"Subject: bare LF TAG\nFrom: a@example.net\n\nBody line.\n", 64),
    ("bare_cr_over_bdat", b"Subject: bare CR TAG\rFrom: a@example.net\r\rBody line.\r", 64),
    ("no_final_newline_over_bdat", b"Subject: TAG\r\n\r\nNo newline at the end", 64),
    ("dot_lines_over_bdat", b"Subject: dots TAG\r\n\r\n.\r\n..\r\n.x\r\n", 5),
]


class EdgeShapeTest(ArchiverTestCase):

    instance_options = {}

    def check_shape(self, template, chunk_size, rcpts):
        message = template.replace(b"TAG", f"{len(rcpts)} recipient(s)".encode())
        result = self.instance.deliver(SENDER, rcpts, message, chunk_size=chunk_size)
        self.assertTrue(result.all_delivered(), result)
        self.assert_fetch_exact(self.instance, message)
        for rcpt in rcpts:
            listed = self.archive_list(self.instance, "--rcpt", rcpt)
            self.assertIn(sha256(message), [row["id"] for row in listed])

    def test_odd_envelope_sender(self):
        # A quoted local part may hold "; DATE", which ends Dovecot's own Received header.
        sender = '"x; Sun, 22 Nov 2026 01:00:00 +0000"@example.net'
        for rcpts in (["carol@example.org"], ["carol@example.org", "dave@example.org"]):
            with self.subTest(rcpts=len(rcpts)):
                message = make_message("Odd sender", "x\r\n")
                result = self.instance.deliver(sender, rcpts, message)
                self.assertTrue(result.all_delivered(), result)
                self.assert_fetch_exact(self.instance, message)
                rows = self.archive_rows(self.instance, "show", sha256(message))
                self.assertEqual({row["from"] for row in rows}, {sender})


def _shape_test(template, chunk_size, rcpts):
    return lambda self: self.check_shape(template, chunk_size, rcpts)


for _name, _template, _chunk in SHAPES:
    setattr(EdgeShapeTest, f"test_{_name}_one_rcpt",
            _shape_test(_template, _chunk, ["alice@example.org"]))
    setattr(EdgeShapeTest, f"test_{_name}_two_rcpts",
            _shape_test(_template, _chunk, ["bob@example.org", "carol@example.org"]))


if __name__ == "__main__":
    unittest.main()
