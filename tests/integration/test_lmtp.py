"""LMTP: one transaction with several recipients (one with +detail) is one stored message with one
delivery record per recipient; fetch is byte-exact; a later redelivery is idempotent."""

import threading
import time
import unittest

from archiver_test import SENDER, ArchiverTestCase, make_message, sha256

RCPTS = ["alice@example.org", "bob+lists@example.org", "carol@example.org"]


class MultiRecipientTest(ArchiverTestCase):

    def setUp(self):
        self.instance = self.start_instance()
        # A leading dot on a body line is dot-stuffed on the wire; the archive keeps it unstuffed.
        self.message = make_message(
            "Quarterly figures", "Hello all,\r\n.this line starts with a dot\r\n..and two\r\n",
            sender="Sally Sender <sender@example.net>", to="alice@example.org, bob@example.org",
            cc="carol@example.org")
        self.result = self.deliver_ok(self.instance, RCPTS, self.message)
        self.message_id = sha256(self.message)

    def test_one_message_three_deliveries(self):
        self.assertEqual(self.result.transmitted, self.message)
        rows = self.archive_list(self.instance)
        self.assertEqual(len(rows), 3, rows)
        self.assertEqual({row["id"] for row in rows}, {self.message_id})
        self.assertEqual(sorted(row["rcpt"] for row in rows), sorted(RCPTS))
        self.assertEqual(sorted(row["user"] for row in rows), ["alice", "bob", "carol"])
        for row in rows:
            self.assertEqual(row["origin"], "lmtp")
            self.assertEqual(row["mailbox"], "INBOX")
            self.assertEqual(row["from"], SENDER)
            self.assertEqual(row["subject"], "Quarterly figures")
            self.assertEqual(int(row["size"]), len(self.message))

        stats = self.archive_stats(self.instance)
        self.assertEqual(int(stats["messages"]), 1, stats)
        self.assertEqual(int(stats["deliveries"]), 3, stats)
        self.assertEqual(int(stats["raw_bytes"]), len(self.message), stats)

    def test_fetch_is_byte_exact(self):
        self.assert_fetch_exact(self.instance, self.message)

    def test_fetch_trace_reproduces_the_mailbox_copy(self):
        traced = self.fetch(self.instance, self.message_id, "--trace",
                            "--rcpt", "bob+lists@example.org")
        self.assertTrue(traced.endswith(self.message), traced[:400])
        self.assertTrue(traced.startswith(b"Return-Path: <sender@example.net>"), traced[:400])
        # Maildir stores LF line ends; everything else must be the same bytes.
        (stored,) = self.instance.maildir_messages("bob")
        self.assertEqual(traced.replace(b"\r\n", b"\n"), stored)

    def test_rcpt_filter_matches_detail_address(self):
        rows = self.archive_list(self.instance, "--rcpt", "bob@example.org")
        self.assertEqual([row["rcpt"] for row in rows], ["bob+lists@example.org"])
        rows = self.archive_list(self.instance, "--rcpt", "alice@example.org")
        self.assertEqual([row["rcpt"] for row in rows], ["alice@example.org"])

    def test_verify_passes(self):
        self.assert_verify_ok(self.instance)

    def test_redelivery_is_idempotent(self):
        self.deliver_ok(self.instance, ["alice@example.org"], self.message)
        # Dovecot itself delivered twice; the archive keeps one record per (id, rcpt, mailbox).
        self.assertEqual(len(self.instance.maildir_messages("alice")), 2)
        rows = self.archive_list(self.instance, "--rcpt", "alice@example.org")
        self.assertEqual(len(rows), 1, rows)
        stats = self.archive_stats(self.instance)
        self.assertEqual((int(stats["messages"]), int(stats["deliveries"])), (1, 3), stats)

        shown = self.archive_rows(self.instance, "show", self.message_id)
        self.assertEqual(sorted(row["rcpt"] for row in shown), sorted(RCPTS))
        for row in shown:
            self.assertEqual(row["id"], self.message_id)
            self.assertEqual(int(row["deliveries"]), 3)
            self.assertEqual(int(row["size"]), len(self.message))
            self.assertEqual(row["subject"], "Quarterly figures")
            self.assertEqual(row["to"], "alice@example.org, bob@example.org")
            self.assertEqual(row["cc"], "carol@example.org")

    def test_show_accepts_unique_prefix_and_decodes_headers(self):
        shown = self.archive_rows(self.instance, "show", self.message_id[:12])
        self.assertEqual(len(shown), 3, shown)
        row = shown[0]
        self.assertEqual(row["id"], self.message_id)
        self.assertIn("Sally Sender", row["header_from"])
        self.assertIn("sender@example.net", row["header_from"])
        self.assertRegex(row["message_id"], r"^<?[0-9a-f]{32}@example\.net>?$")


class SeparateTransactionsTest(ArchiverTestCase):

    def test_same_message_in_two_transactions_is_stored_once(self):
        instance = self.start_instance()
        message = make_message("Shared", "Same bytes, two transactions.\r\n")
        self.deliver_ok(instance, ["alice@example.org"], message)
        self.deliver_ok(instance, ["dave@example.org"], message)
        rows = self.archive_list(instance)
        self.assertEqual(sorted(row["user"] for row in rows), ["alice", "dave"])
        self.assertEqual({row["id"] for row in rows}, {sha256(message)})
        stats = self.archive_stats(instance)
        self.assertEqual((int(stats["messages"]), int(stats["deliveries"])), (1, 2), stats)

    def test_list_is_newest_first_and_limit_applies(self):
        instance = self.start_instance()
        messages = [make_message(f"Message {n}", f"Number {n}.\r\n") for n in range(3)]
        for number, message in enumerate(messages):
            if number:
                time.sleep(1.05)  # distinct received times even at one-second resolution
            self.deliver_ok(instance, ["alice@example.org"], message)
        rows = self.archive_list(instance)
        self.assertEqual([row["subject"] for row in rows], ["Message 2", "Message 1", "Message 0"])
        self.assertEqual(sorted(row["received"] for row in rows),
                         [row["received"] for row in reversed(rows)])
        rows = self.archive_list(instance, "--limit", "2")
        self.assertEqual([row["subject"] for row in rows], ["Message 2", "Message 1"])


class ConcurrentDeliveryTest(ArchiverTestCase):

    def test_concurrent_lmtp_workers(self):
        # Four connections, so four lmtp processes write the archive at the same time: each
        # sends its own messages and the same shared message to its own user.
        instance = self.start_instance()
        users = ["alice", "bob", "carol", "dave"]
        shared = make_message("Sent to all at once", "x\r\n")
        own = {user: [make_message(f"{user} {n}", f"{n}\r\n") for n in range(15)]
               for user in users}
        failures = []

        def deliver(user):
            with instance.lmtp() as client:
                for message in own[user][:7] + [shared] + own[user][7:]:
                    result = client.send(SENDER, [instance.address(user)], message)
                    if not result.all_delivered():
                        failures.append(result)

        threads = [threading.Thread(target=deliver, args=(user,)) for user in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(failures, [])
        stats = self.archive_stats(instance)
        self.assertEqual((int(stats["messages"]), int(stats["deliveries"])), (61, 64), stats)
        rows = self.archive_list(instance, "--subject", "Sent to all at once")
        self.assertEqual(sorted(r["user"] for r in rows), users)
        self.assertEqual({r["id"] for r in rows}, {sha256(shared)})
        self.assert_verify_ok(instance)


if __name__ == "__main__":
    unittest.main()
