"""Pigeonhole Sieve: `fileinto` deliveries (LMTP and dovecot-lda) are archived with the mailbox the
script chose, one record per folder, and no record for an INBOX the message never reached."""

import os
import unittest

from archiver_test import SENDER, ArchiverTestCase, make_message, sha256

SIEVE_PLUGIN = "/usr/lib/dovecot/modules/lib90_sieve_plugin.so"


@unittest.skipUnless(os.path.exists(SIEVE_PLUGIN), "dovecot-sieve (Pigeonhole) is not installed")
class SieveTest(ArchiverTestCase):

    def setUp(self):
        super().setUp()
        self.instance = self.start_instance(sieve=True)
        self.instance.set_sieve_script("carol", 'require "fileinto";\nfileinto "Lists";\n')
        self.instance.set_sieve_script(
            "dave", 'require "fileinto";\nfileinto "Lists";\nfileinto "Archive";\n')

    def rows_for(self, user):
        return self.archive_list(self.instance, "--user", user)

    def test_fileinto_over_lmtp(self):
        message = make_message("Sieve over LMTP", "Filed by Sieve.\r\n")
        self.deliver_ok(self.instance, ["alice@example.org", "carol@example.org",
                                        "dave@example.org"], message)
        self.assertEqual([(r["mailbox"], r["rcpt"]) for r in self.rows_for("alice")],
                         [("INBOX", "alice@example.org")])
        self.assertEqual([(r["mailbox"], r["rcpt"]) for r in self.rows_for("carol")],
                         [("Lists", "carol@example.org")])
        self.assertEqual(sorted(r["mailbox"] for r in self.rows_for("dave")), ["Archive", "Lists"])
        for row in self.archive_list(self.instance):
            self.assertEqual(row["id"], sha256(message))
        # What the archive says matches where Dovecot put the mail.
        self.assertEqual(len(self.instance.maildir_messages("carol", "Lists")), 1)
        self.assertEqual(self.instance.maildir_messages("carol"), [])
        self.assertEqual(len(self.instance.maildir_messages("dave", "Archive")), 1)
        stats = self.archive_stats(self.instance)
        self.assertEqual((int(stats["messages"]), int(stats["deliveries"])), (1, 4), stats)
        self.assert_fetch_exact(self.instance, message)

    def test_fileinto_over_lda(self):
        message = make_message("Sieve over LDA", "Filed by Sieve via LDA.\r\n")
        self.lda_ok(self.instance, "carol", message, sender=SENDER, rcpt="carol@example.org")
        (row,) = self.rows_for("carol")
        self.assertEqual((row["mailbox"], row["origin"]), ("Lists", "lda"))
        self.assertEqual(len(self.instance.maildir_messages("carol", "Lists")), 1)
        self.assert_fetch_exact(self.instance, message)

    def test_discarded_message_is_still_archived(self):
        # Sieve `discard` saves nothing, but the message was delivered to this server: it is
        # archived once, in no mailbox.
        self.instance.set_sieve_script("bob", "discard;\n")
        message = make_message("Discarded by Sieve", "Gone from the mailbox, kept in the archive.\r\n")
        self.deliver_ok(self.instance, ["bob@example.org"], message)
        self.assertEqual(self.instance.maildir_messages("bob"), [])
        self.assertEqual([(r["mailbox"], r["rcpt"], r["id"]) for r in self.rows_for("bob")],
                         [("", "bob@example.org", sha256(message))])
        self.assert_fetch_exact(self.instance, message)

    def test_fileinto_an_excluded_mailbox_is_not_archived_elsewhere(self):
        instance = self.start_instance(sieve=True, settings={"archiver_exclude_mailboxes": "Junk"})
        instance.set_sieve_script("bob", 'require "fileinto";\nfileinto "Junk";\n')
        message = make_message("Filed into Junk", "x\r\n")
        self.deliver_ok(instance, ["bob@example.org", "alice@example.org"], message)
        self.assertEqual(len(instance.maildir_messages("bob", "Junk")), 1)
        self.assertEqual([(r["user"], r["mailbox"]) for r in self.archive_list(instance)],
                         [("alice", "INBOX")])

    def test_mailbox_filter(self):
        message = make_message("Filter by mailbox", "x\r\n")
        self.deliver_ok(self.instance, ["dave@example.org", "alice@example.org"], message)
        rows = self.archive_list(self.instance, "--mailbox", "Archive")
        self.assertEqual([(r["user"], r["mailbox"]) for r in rows], [("dave", "Archive")])


if __name__ == "__main__":
    unittest.main()
