"""IMAP APPEND is archived only with `archiver_capture = delivery append` (origin append); IMAP
COPY and MOVE never create a record, whatever the capture setting."""

import unittest

from archiver_test import SENDER, ArchiverTestCase, di, make_message, sha256


class AppendTest(ArchiverTestCase):

    def setUp(self):
        super().setUp()
        self.instance = self.start_instance()
        # Something delivered, so the archive exists and the lists below are meaningful.
        self.delivered = make_message("Delivered", "Over LMTP.\r\n")
        self.deliver_ok(self.instance, ["alice@example.org"], self.delivered)

    def append(self, mailbox, message):
        imap = self.instance.imap("alice")
        try:
            status, detail = imap.append(mailbox, r"(\Seen)", None, message)
            self.assertEqual(status, "OK", detail)
        finally:
            imap.logout()

    def copy_and_move(self, source, uid_count):
        """COPY every message of `source` to Copies, then MOVE them on to Moved."""
        imap = self.instance.imap("alice")
        try:
            for mailbox in ("Copies", "Moved"):
                imap.create(mailbox)
            status, data = imap.select(source)
            self.assertEqual((status, int(data[0])), ("OK", uid_count))
            self.assertEqual(imap.copy("1:*", "Copies")[0], "OK")
            status, data = imap.select("Copies")
            self.assertEqual(imap._simple_command("MOVE", "1:*", "Moved")[0], "OK")
        finally:
            imap.logout()
        self.assertEqual(len(self.instance.maildir_messages("alice", "Moved")), uid_count)

    def ids(self):
        return sorted((row["id"], row["origin"], row["mailbox"])
                      for row in self.archive_list(self.instance))

    def test_append_not_archived_by_default(self):
        appended = make_message("Sent by alice", "Appended to Sent.\r\n")
        self.append("Sent", appended)
        self.assertEqual(self.instance.maildir_messages("alice", "Sent"), [
            appended.replace(b"\r\n", b"\n")])
        self.assertEqual(self.ids(), [(sha256(self.delivered), "lmtp", "INBOX")])

    def test_copy_and_move_create_no_record(self):
        self.copy_and_move("INBOX", 1)
        self.assertEqual(self.ids(), [(sha256(self.delivered), "lmtp", "INBOX")])

    def test_append_archived_with_delivery_append(self):
        self.instance.restart(settings={"archiver_capture": "delivery append"})
        appended = make_message("Sent by alice", "Appended to Sent.\r\n")
        self.append("Sent", appended)
        self.assertEqual(self.ids(), sorted([(sha256(self.delivered), "lmtp", "INBOX"),
                                             (sha256(appended), "append", "Sent")]))
        (row,) = self.archive_list(self.instance, "--mailbox", "Sent")
        self.assertEqual(row["user"], "alice")
        self.assert_fetch_exact(self.instance, appended)
        # Deliveries are still archived under `delivery append`.
        second = make_message("Delivered later", "x\r\n")
        self.deliver_ok(self.instance, ["alice@example.org"], second, sender=SENDER)
        self.assertIn((sha256(second), "lmtp", "INBOX"), self.ids())

    def test_capture_scoped_to_imap(self):
        """archiver_capture set for the imap protocol only: APPENDs are archived, LMTP still
        archives deliveries under the global value. 2.3: a plugin { } inside protocol imap;
        2.4: the setting itself inside protocol imap."""
        if di.DOVECOT_24:
            scoped = "protocol imap {\n  archiver_capture = delivery append\n}\n"
        else:
            scoped = "protocol imap {\n  plugin {\n    archiver_capture = delivery append\n  }\n}\n"
        self.instance.restart(extra_config=scoped)
        appended = make_message("Sent by alice", "Appended to Sent.\r\n")
        self.append("Sent", appended)
        second = make_message("Delivered later", "x\r\n")
        self.deliver_ok(self.instance, ["alice@example.org"], second, sender=SENDER)
        self.assertEqual(self.ids(), sorted([(sha256(self.delivered), "lmtp", "INBOX"),
                                             (sha256(appended), "append", "Sent"),
                                             (sha256(second), "lmtp", "INBOX")]))

    def test_copy_and_move_create_no_record_with_delivery_append(self):
        self.instance.restart(settings={"archiver_capture": "delivery append"})
        before = self.ids()
        self.copy_and_move("INBOX", 1)
        self.assertEqual(self.ids(), before)


if __name__ == "__main__":
    unittest.main()
