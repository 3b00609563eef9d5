"""The archive does not depend on the mailbox format: with sdbox and mdbox (whose saves, like
Maildir's, rewrite line endings and whose later LMTP recipients are copied from the first saved
mail) deliveries and APPENDs are still archived byte for byte as transmitted, once each."""

import unittest

import dovecot_instance as di
from archiver_test import SENDER, ArchiverTestCase, make_message, sha256

RCPTS = ["alice@example.org", "bob+tag@example.org", "carol@example.org"]


class MailboxFormatTest(ArchiverTestCase):

    def check_format(self, driver, path):
        location = f"{driver}:{path}"
        instance = self.start_instance(
            settings={"archiver_capture": "delivery append"},
            extra_config=di.mail_location_config(driver, path))
        delivered = make_message(f"Delivered into {location}", "Line one.\r\n.dot line\r\n")
        self.deliver_ok(instance, RCPTS, delivered)
        appended = make_message(f"Appended into {location}", "Saved by a client.\r\n")
        imap = instance.imap("alice")
        try:
            status, _ = imap.append("Sent", None, None, appended)
        finally:
            imap.logout()
        self.assertEqual(status, "OK")

        rows = self.archive_list(instance)
        self.assertEqual(sorted((r["rcpt"], r["mailbox"], r["origin"], r["id"]) for r in rows),
                         sorted([(rcpt, "INBOX", "lmtp", sha256(delivered)) for rcpt in RCPTS]
                                + [("", "Sent", "append", sha256(appended))]))
        stats = self.archive_stats(instance)
        self.assertEqual((int(stats["messages"]), int(stats["deliveries"])), (2, 4), stats)
        self.assert_fetch_exact(instance, delivered)
        self.assert_fetch_exact(instance, appended)
        self.assertEqual(instance.doveadm("archive", "verify").returncode, 0)

    def test_sdbox(self):
        self.check_format("sdbox", "~/sdbox")

    def test_mdbox(self):
        self.check_format("mdbox", "~/mdbox")


if __name__ == "__main__":
    unittest.main()
