"""8-bit and binary content, CHUNKING (BDAT), RFC 2047 headers and a 20 MB message: every one is
fetched back byte for byte."""

import base64
import os
import unittest

from archiver_test import ArchiverTestCase, make_message, sha256

RCPT = "alice@example.org"


class MimeTest(ArchiverTestCase):

    instance_options = {}

    def test_8bitmime_over_data(self):
        message = make_message(
            "Gr\u00fc\u00dfe raw UTF-8 in a header".encode(),
            "Caf\xe9 cr\xe8me br\xfbl\xe9e, \xa3 and \xa5.\r\n".encode("latin-1") * 50,
            charset="iso-8859-1", encoding="8bit")
        self.deliver_ok(self.instance, [RCPT], message, body="8BITMIME")
        self.assert_fetch_exact(self.instance, message)

    def test_rfc2047_headers_are_decoded_in_the_summary(self):
        message = make_message(
            "=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= =?ISO-8859-1?Q?_und_M=FCnchen?=",
            "Encoded words.\r\n",
            sender="=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.net>")
        self.deliver_ok(self.instance, [RCPT], message)
        self.assert_fetch_exact(self.instance, message)
        (row,) = self.archive_rows(self.instance, "show", sha256(message))
        self.assertEqual(row["subject"], "Gr\u00fc\u00dfe aus K\u00f6ln und M\u00fcnchen")
        self.assertIn("J\u00fcrgen M\u00fcller", row["header_from"])

    def test_chunking_bdat_is_not_dot_unstuffed(self):
        with self.instance.lmtp() as client:
            self.assertTrue(client.has_extension("chunking"), "Dovecot LMTP offers CHUNKING")
            # BDAT carries bytes unstuffed: a line of "." and "..x" must arrive as they are.
            message = make_message("Chunked", ("Line\r\n.\r\n..x\r\n\u00e9t\u00e9\r\n" * 3000),
                                   charset="utf-8", encoding="8bit")
            result = client.send("sender@example.net", [RCPT], message, body="8BITMIME",
                                 chunk_size=7000)
        self.assertTrue(result.all_delivered(), result)
        self.assert_fetch_exact(self.instance, message)

    def test_binary_body_bytes_over_bdat(self):
        # Every byte value, bare CR and LF and NUL included, as Content-Transfer-Encoding binary.
        # Dovecot (2.3 and 2.4) does not offer BINARYMIME, so this goes as 8BITMIME, which it
        # accepts.
        body = bytes(range(256)) * 64 + b"\r\n"
        message = make_message("Binary body", body, charset="x-binary", encoding="binary")
        result = self.instance.deliver("sender@example.net", [RCPT], message, body="8BITMIME",
                                       chunk_size=4096)
        self.assertTrue(result.all_delivered(), result)
        self.assert_fetch_exact(self.instance, message)

    def test_binarymime_when_offered(self):
        with self.instance.lmtp() as client:
            if not client.has_extension("binarymime"):
                self.skipTest("this Dovecot's LMTP does not offer BINARYMIME (2.3.19 and "
                              "2.4.1 do not); binary bodies are covered over BDAT with 8BITMIME")
            message = make_message("BINARYMIME", bytes(range(256)) * 8, encoding="binary")
            result = client.send("sender@example.net", [RCPT], message, body="BINARYMIME",
                                 chunk_size=1000)
        self.assertTrue(result.all_delivered(), result)
        self.assert_fetch_exact(self.instance, message)

    def test_twenty_megabyte_message(self):
        attachment = base64.encodebytes(os.urandom(15 * 1024 * 1024)).replace(b"\n", b"\r\n")
        body = (b"This is a multi-part message.\r\n\r\n--b1\r\n"
                b"Content-Type: text/plain\r\n\r\nSee attachment.\r\n--b1\r\n"
                b"Content-Type: application/octet-stream; name=big.bin\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n" + attachment + b"--b1--\r\n")
        message = make_message("Twenty megabytes", body,
                               content_type='multipart/mixed; boundary="b1"')
        self.assertGreater(len(message), 20 * 1000 * 1000)
        self.deliver_ok(self.instance, [RCPT], message)
        self.assert_fetch_exact(self.instance, message)
        (row,) = self.archive_list(self.instance, "--subject", "Twenty megabytes")
        self.assertEqual(int(row["size"]), len(message))


if __name__ == "__main__":
    unittest.main()
