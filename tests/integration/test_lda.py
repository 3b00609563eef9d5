"""dovecot-lda: a delivery is archived once with origin lda and fetched exactly as given on stdin
(a leading mbox From line is Dovecot's envelope, not part of the message; the Return-Path and
Delivered-To lines an MTA prepends for one recipient belong to that delivery)."""

import unittest

from archiver_test import SENDER, ArchiverTestCase, make_message, sha256


class LdaTest(ArchiverTestCase):

    def setUp(self):
        super().setUp()
        self.instance = self.start_instance()

    def test_lda_delivery_is_archived_once(self):
        # LDA takes stdin as it is: LF line ends stay LF.
        message = make_message("Via LDA", "Delivered by dovecot-lda.\r\n").replace(b"\r\n", b"\n")
        self.lda_ok(self.instance, "alice", message, sender=SENDER, rcpt="alice+lda@example.org")
        rows = self.archive_list(self.instance)
        self.assertEqual(len(rows), 1, rows)
        (row,) = rows
        self.assertEqual(row["id"], sha256(message))
        self.assertEqual(row["origin"], "lda")
        self.assertEqual(row["user"], "alice")
        self.assertEqual(row["mailbox"], "INBOX")
        self.assertEqual(row["from"], SENDER)
        self.assertEqual(row["rcpt"], "alice+lda@example.org")
        self.assertEqual(row["subject"], "Via LDA")
        self.assertEqual(int(row["size"]), len(message))
        self.assert_fetch_exact(self.instance, message)
        self.assertEqual(len(self.instance.maildir_messages("alice")), 1)
        stats = self.archive_stats(self.instance)
        self.assertEqual((int(stats["messages"]), int(stats["deliveries"])), (1, 1), stats)
        self.assert_verify_ok(self.instance)

    def test_leading_mbox_from_line_is_not_part_of_the_message(self):
        message = make_message("With From line", "Body.\r\n").replace(b"\r\n", b"\n")
        stdin = b"From sender@example.net  Sat Jun  1 12:00:00 2024\n" + message
        self.lda_ok(self.instance, "bob", stdin, sender=SENDER, rcpt="bob@example.org")
        (row,) = self.archive_list(self.instance)
        self.assertEqual(row["id"], sha256(message))
        self.assert_fetch_exact(self.instance, message)

    def test_crlf_input_is_kept_as_given(self):
        message = make_message("CRLF via LDA", "Line one.\r\nLine two.\r\n")
        self.lda_ok(self.instance, "carol", message, sender=SENDER, rcpt="carol@example.org")
        self.assert_fetch_exact(self.instance, message)

    def test_lda_into_a_named_mailbox(self):
        message = make_message("Into Projects", "Filed by -m.\r\n")
        self.lda_ok(self.instance, "dave", message, sender=SENDER, rcpt="dave@example.org",
                    mailbox="Projects")
        (row,) = self.archive_list(self.instance)
        self.assertEqual(row["mailbox"], "Projects")
        self.assertEqual(len(self.instance.maildir_messages("dave", "Projects")), 1)

    def test_lda_and_lmtp_deliveries_share_one_stored_copy(self):
        message = make_message("Both paths", "Same bytes both ways.\r\n")
        self.deliver_ok(self.instance, ["alice@example.org"], message)
        self.lda_ok(self.instance, "bob", message, sender=SENDER, rcpt="bob@example.org")
        rows = self.archive_list(self.instance)
        self.assertEqual(sorted(row["origin"] for row in rows), ["lda", "lmtp"])
        self.assertEqual({row["id"] for row in rows}, {sha256(message)})
        stats = self.archive_stats(self.instance)
        self.assertEqual((int(stats["messages"]), int(stats["deliveries"])), (1, 2), stats)

    def test_same_envelope_for_several_users_is_one_delivery_each(self):
        """dovecot-lda run with the same -a (a shared address) for three users: three
        deliveries of one stored message; running it again for one of them adds nothing."""
        message = make_message("To the team", "One envelope, three users.\r\n")
        users = ("alice", "bob", "carol")
        for user in users:
            self.lda_ok(self.instance, user, message, sender=SENDER, rcpt="team@example.org")
        self.lda_ok(self.instance, "alice", message, sender=SENDER, rcpt="team@example.org")
        rows = self.archive_list(self.instance)
        self.assertEqual(sorted(row["user"] for row in rows), list(users))
        stats = self.archive_stats(self.instance)
        self.assertEqual((int(stats["messages"]), int(stats["deliveries"])), (1, 3), stats)
        self.assert_verify_ok(self.instance)

    def test_postfix_pipe_trace_lines_belong_to_each_delivery(self):
        """Postfix's pipe(8) with flags=DRhu prepends Return-Path and Delivered-To for each
        recipient before running dovecot-lda: the message is stored once, fetched as the
        sender's MTA sent it, and each delivery keeps its own lines (fetch --trace)."""
        message = make_message("Through Postfix", "Piped to dovecot-lda.\r\n").replace(
            b"\r\n", b"\n")
        prefixes = {}
        for user in ("alice", "bob", "carol"):
            prefixes[user] = (f"Return-Path: <{SENDER}>\n"
                              f"Delivered-To: {user}@example.org\n").encode()
            self.lda_ok(self.instance, user, prefixes[user] + message, sender=SENDER,
                        rcpt=f"{user}@example.org")
            self.assertEqual(self.instance.maildir_messages(user), [prefixes[user] + message])
        stats = self.archive_stats(self.instance)
        self.assertEqual((int(stats["messages"]), int(stats["deliveries"])), (1, 3), stats)
        self.assertEqual({row["id"] for row in self.archive_list(self.instance)},
                         {sha256(message)})
        self.assert_fetch_exact(self.instance, message)
        self.assertEqual(self.fetch(self.instance, sha256(message), "--trace", "--rcpt",
                                    "bob@example.org"), prefixes["bob"] + message)
        self.assert_verify_ok(self.instance)


if __name__ == "__main__":
    unittest.main()
