"""The mailbox and subject indexes (format 3) through real doveadm: `archive list --mailbox`
and `--subject` answer the same through them as by reading every record (the subject filter
stays an ASCII-case-insensitive substring), on a new archive and on one that format 2 software
wrote, before and after `doveadm archive reindex` backfills it; verify passes throughout."""

import os
import subprocess
import unittest

from archiver_test import BUILD_DIR, ArchiverTestCase, make_message

MESSAGES = [  # (recipient, subject)
    ("alice@example.org", "Quarterly figures"),
    ("bob@example.org", "Invoice 4711 for October"),
    ("alice@example.org", "Re: Weekly REPORT"),
    ("carol@example.org", "Gr\u00fc\u00dfe aus K\u00f6ln"),
    ("bob@example.org", "weekly report, again"),
]
# (filters, what each lists: the subjects, newest first)
QUERIES = [
    (("--mailbox", "Sent"), ["Appended draft"]),
    (("--mailbox", "INBOX"), [s for _, s in reversed(MESSAGES)]),
    (("--mailbox", "Nowhere"), []),
    (("--subject", "FIGURES"), ["Quarterly figures"]),
    (("--subject", "voice 47"), ["Invoice 4711 for October"]),  # a substring across words
    (("--subject", "port"), ["weekly report, again", "Re: Weekly REPORT"]),
    (("--subject", "K\u00f6ln"), ["Gr\u00fc\u00dfe aus K\u00f6ln"]),
    (("-u", "alice", "--subject", "report"), ["Re: Weekly REPORT"]),
    (("--mailbox", "INBOX", "--subject", "zzz"), []),
]


class ReindexTest(ArchiverTestCase):

    def setUp(self):
        super().setUp()
        self.instance = self.start_instance(settings={"archiver_capture": "delivery append"})
        for rcpt, subject in MESSAGES:
            self.deliver_ok(self.instance, [rcpt], make_message(subject, f"{subject}\r\n"))
        imap = self.instance.imap("alice")
        try:
            status, detail = imap.append("Sent", None, None,
                                         make_message("Appended draft", "Saved.\r\n"))
            self.assertEqual(status, "OK", detail)
        finally:
            imap.logout()

    def assert_queries(self):
        for filters, subjects in QUERIES:
            rows = self.archive_list(self.instance, *filters)
            self.assertEqual([row["subject"] for row in rows], subjects, filters)
        self.assert_verify_ok(self.instance)

    def reindex(self):
        (row,) = self.archive_rows(self.instance, "reindex")
        self.assertEqual(row["indexes"], "complete")
        return int(row["filed"])

    def test_new_archive_is_complete_from_the_start(self):
        self.assert_queries()
        self.assertEqual(self.reindex(), 0)
        self.assert_queries()

    def test_format_two_archive_is_read_then_backfilled(self):
        # Dovecot's processes keep the archive open: stopped while the tool rewrites it, as
        # an upgrade restarts them.
        self.instance.stop()
        tool = os.path.join(BUILD_DIR, "tests", "archiver-test-format-two")
        subprocess.run([tool, self.instance.archive_dir], check=True)
        self.instance.start()
        self.assert_queries()  # no indexes: every record is read
        late = make_message("Late weekly report", "After the upgrade.\r\n")
        self.deliver_ok(self.instance, ["carol@example.org"], late)
        earlier = [s for _, s in reversed(MESSAGES)]
        rows = self.archive_list(self.instance, "--subject", "late weekly")
        self.assertEqual([row["subject"] for row in rows], ["Late weekly report"])
        self.assertEqual(self.reindex(), len(MESSAGES) + 2)  # and the APPEND, and the late one
        self.assertEqual(self.reindex(), 0)
        rows = self.archive_list(self.instance, "--mailbox", "INBOX")
        self.assertEqual([row["subject"] for row in rows], ["Late weekly report"] + earlier)
        rows = self.archive_list(self.instance, "--subject", "report")
        self.assertEqual([row["subject"] for row in rows],
                         ["Late weekly report", "weekly report, again", "Re: Weekly REPORT"])
        self.assert_verify_ok(self.instance)


if __name__ == "__main__":
    unittest.main()
