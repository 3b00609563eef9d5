"""Archives of older formats through real doveadm. The mailbox and subject indexes (format 3):
`archive list --mailbox` and `--subject` answer the same through them as by reading every
record (the subject filter stays an ASCII-case-insensitive substring), on a new archive and on
one that format 2 software wrote, before and after `doveadm archive reindex` backfills it.
Compact records (format 4): an archive whose records format 2 or 3 software wrote (header
summary and trace in every record) lists, shows and fetches (with its trace) exactly the same
before and after `doveadm archive migrate` rewrites them, with deliveries made in between;
verify passes throughout. Payload tails (format 5): an archive whose messages values format 4
software wrote (the whole payload in the value) reads the same, next to new ones."""

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
        tool = os.path.join(BUILD_DIR, "tests", "archiver-test-old-format")
        subprocess.run([tool, self.instance.archive_dir, "2"], check=True)
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


    def snapshot(self):
        """Everything doveadm shows of the archive: list rows, show rows of each message (but
        how its bytes are stored: stored_size and format), and fetch --trace of each delivery
        (keyed by message id, recipient and mailbox)."""
        rows = self.archive_list(self.instance)
        shown, fetched = {}, {}
        for row in rows:
            shown[row["id"]] = [{k: v for k, v in shown_row.items()
                                 if k not in ("stored_size", "format")}
                                for shown_row in self.archive_rows(self.instance, "show", row["id"])]
            key = (row["id"], row["rcpt"], row["mailbox"])
            options = ["--trace", "--mailbox", row["mailbox"]]
            if row["rcpt"]:
                options += ["--rcpt", row["rcpt"]]
            fetched[key] = self.fetch(self.instance, row["id"], *options)
        return rows, shown, fetched

    def migrate(self):
        (row,) = self.archive_rows(self.instance, "migrate")
        self.assertEqual(row["format"], "current")
        return int(row["filed"]), int(row["rewritten"])

    def make_older(self, format_version):
        self.instance.stop()
        tool = os.path.join(BUILD_DIR, "tests", "archiver-test-old-format")
        subprocess.run([tool, self.instance.archive_dir, str(format_version)], check=True)
        self.instance.start()

    def test_migrate_rewrites_older_records_and_nothing_shown_changes(self):
        for format_version in (4, 3, 2):
            with self.subTest(format_version=format_version):
                before = self.snapshot()
                self.assertTrue(any(b"Return-Path:" in m for m in before[2].values()))
                self.make_older(format_version)
                self.assertEqual(self.snapshot(), before)  # the older records read the same
                late = make_message(f"Late report {format_version}", "After the upgrade.\r\n")
                self.deliver_ok(self.instance, ["carol@example.org"], late)
                with_late = self.snapshot()
                older = len(before[0])
                self.assertEqual(len(with_late[0]), older + 1)
                filed = older + 1 if format_version == 2 else 0
                rewritten = 0 if format_version == 4 else older  # 4: payloads, not records
                self.assertEqual(self.migrate(), (filed, rewritten))
                self.assertEqual(self.snapshot(), with_late)
                self.assertEqual(self.migrate(), (0, 0))
                rows = self.archive_list(self.instance, "--subject", "late report")
                self.assertEqual(rows[0]["subject"], f"Late report {format_version}")
                self.assert_verify_ok(self.instance)

    def test_reindex_leaves_records_and_migrate_rewrites_them(self):
        # (Interrupted and resumed migration: the unit tests of Store::CompactRecordsStep.)
        self.make_older(3)
        result = self.instance.doveadm("archive", "reindex")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.migrate(), (0, len(MESSAGES) + 1))
        self.assertEqual(self.migrate(), (0, 0))
        self.assert_queries()


if __name__ == "__main__":
    unittest.main()
