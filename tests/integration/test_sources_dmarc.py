"""DMARC sources and skipped remote messages, end to end: a second Dovecot instance is the remote
report mailbox (mails put there over IMAP APPEND, built with Python's email package: gzip and ZIP
aggregate reports, an ARF failure report, a mail that is no report), the first one runs
`doveadm archive source sync`. Reports are checked with `doveadm dmarc list|failures`, the
remote's flags and folders with imaplib, skips in `source log`."""

import gzip
import imaplib
import json
import os
import time
import unittest

import archiver_test as at
from archiver_test import ArchiverTestCase, di, make_message, sha256
from dmarc_delivery_fixtures import (aggregate_xml, arf_report, report_message, unique_domain,
                                     wire)
from dmarc_doveadm_fixtures import zip_bytes

REMOTE_USERS = ("seen", "move", "delete", "filter", "oversize", "retry", "crash")
REMOTE_PASSWORD = "dmarc-Remote-Pw-91c2"
OTHER_SENDER = "reports@elsewhere.example"


class DmarcSourcesTest(ArchiverTestCase):
    """One local instance (the archive) and one remote shared by the tests; each test has its
    own remote user, source and policy domains."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.remote = di.DovecotInstance(None, plugin=False, users=REMOTE_USERS,
                                        name="archiver-dmarc-remote", password=REMOTE_PASSWORD)
        cls.addClassCleanup(cls.remote.cleanup)
        cls.remote.start()
        cls.local = di.DovecotInstance(at.BUILD_DIR, name="archiver-dmarc-sources")
        cls.addClassCleanup(cls.local.cleanup)
        cls.local.start()

    # --- helpers -----------------------------------------------------------------------------

    def source(self, *args, input=None, fmt=None):
        return self.local.doveadm("archive", "source", *args, input=input, fmt=fmt)

    def source_ok(self, *args, **kwargs):
        result = self.source(*args, **kwargs)
        self.assertEqual(result.returncode, 0, f"source {args}: {result.stderr.decode()}")
        return result

    def add(self, name, user, *options):
        self.source_ok("add", "--host", "127.0.0.1", "--port", self.remote.imap_port, "--user",
                       user, "--tls", "none", "--password-stdin", *options, name,
                       input=REMOTE_PASSWORD.encode() + b"\n")

    def sync(self, name, *options):
        result = self.source("sync", *options, name, fmt="json")
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
        (row,) = json.loads(result.stdout.decode())
        return row

    def log(self, name):
        return json.loads(self.source_ok("log", name, fmt="json").stdout.decode())

    def imap(self, user):
        connection = imaplib.IMAP4("127.0.0.1", self.remote.imap_port, timeout=60)
        connection.login(user, REMOTE_PASSWORD)
        self.addCleanup(connection.logout)
        return connection

    def append(self, user, messages, date=None):
        connection = self.imap(user)
        for message in messages:
            when = imaplib.Time2Internaldate(date) if date else None
            typ, _ = connection.append("INBOX", None, when, message)
            self.assertEqual(typ, "OK")

    def flags_by_subject(self, user, folder="INBOX"):
        """{subject: flags} of the remote folder's messages."""
        connection = self.imap(user)
        typ, count = connection.select(f'"{folder}"', readonly=True)
        self.assertEqual(typ, "OK", folder)
        if count == [b"0"]:
            return {}
        typ, data = connection.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        result = {}
        for item in data:
            if isinstance(item, tuple):
                flags = imaplib.ParseFlags(item[0])
                subject = item[1].decode().split(":", 1)[1].strip()
                result[subject] = sorted(flag.decode() for flag in flags)
        return result

    def reports(self, domain):
        return self.dmarc_rows(self.local, "list", "--domain", domain)

    def failures(self, domain):
        return self.dmarc_rows(self.local, "failures", "--domain", domain)

    def report_mails(self, domain, prefix):
        """A gzip and a ZIP aggregate report, an ARF failure report and a mail without a
        report, for `domain`; subjects start with `prefix`."""
        gz = wire(report_message(f"{prefix} gzip Report Domain: {domain}", [
            (gzip.compress(aggregate_xml(domain, [("192.0.2.1", 3, "pass", "pass")])),
             "application", "gzip", f"google.com!{domain}!1.xml.gz")]))
        zipped = wire(report_message(f"{prefix} zip Report Domain: {domain}", [
            (zip_bytes("report.xml", aggregate_xml(domain, [("192.0.2.2", 5, "fail", "pass")],
                                                   org="Yahoo")),
             "application", "zip", f"yahoo!{domain}!2.zip")]))
        failure = arf_report(domain, "203.0.113.9", f"CEO <ceo@{domain}>", "Wire transfer")
        failure = failure.replace(b"Subject: DMARC failure report for",
                                  f"Subject: {prefix} arf Report Domain:".encode(), 1)
        plain = make_message(f"{prefix} plain Report Domain: not a report",
                             "Just a note, no report.\r\n")
        return [gz, zipped, failure, plain]

    # --- tests -------------------------------------------------------------------------------

    def test_after_seen_parses_and_flags_then_nothing_again(self):
        domain = unique_domain()
        self.append("seen", self.report_mails(domain, "S"))
        self.add("seen-src", "seen", "--purpose", "dmarc", "--after", "seen")
        row = self.sync("seen-src")
        self.assertEqual((row["status"], row["archived"]), ("active", "4"))
        self.assertEqual(sorted((r["org"], int(r["messages"])) for r in self.reports(domain)),
                         [("Yahoo", 5), ("google.com", 3)])
        self.assertEqual([r["source_ip"] for r in self.failures(domain)], ["203.0.113.9"])
        flags = self.flags_by_subject("seen")
        for kind in ("gzip", "zip", "arf"):
            self.assertIn("\\Seen", flags[f"S {kind} Report Domain: {domain}"], kind)
        # No report in it: archived and counted as failed, left unread on the remote.
        self.assertNotIn("\\Seen", flags["S plain Report Domain: not a report"])
        entry = next(e for e in self.log("seen-src") if e["what"].startswith("dmarc INBOX"))
        self.assertIn("3 mails with reports (2 aggregate, 1 failure), 1 failed", entry["what"])
        self.assertIn("no readable DMARC report", entry["error"])
        sources = {r["subject"] for r in self.archive_list(self.local, "--source", "seen-src")}
        self.assertEqual(len(sources), 4)
        # Processed once, whatever the action: a second sync reads nothing again.
        self.assertEqual(self.sync("seen-src")["archived"], "0")
        self.assertEqual(len(self.reports(domain)), 2)
        dmarc_entries = [e for e in self.log("seen-src") if e["what"].startswith("dmarc ")]
        self.assertEqual(len(dmarc_entries), 1)

    def test_a_report_that_crashes_the_reader_is_that_mails_error_not_the_syncs(self):
        """Source mail is read by archiver-dmarc-reader too (the test-only fault switch makes it
        crash): the sync goes on, the mail is archived, counted failed and left on the remote,
        its ledger error says how the reading ended; reprocess reads it once the fault is gone."""
        domain = unique_domain()
        mails = self.report_mails(domain, "C")[:1]
        self.append("crash", mails)
        self.add("crash-src", "crash", "--purpose", "dmarc", "--after", "seen")
        # doveadm takes its environment from the config's import_environment, as LMTP does.
        fault = ("import_environment {\n  ARCHIVER_TEST_DMARC_READER_FAULT = abort\n}\n"
                 if di.DOVECOT_24 else
                 "import_environment = $import_environment ARCHIVER_TEST_DMARC_READER_FAULT=abort\n")
        self.local.restart(extra_config=fault)
        try:
            row = self.sync("crash-src")
        finally:
            self.local.restart(extra_config="")
        self.assertEqual((row["status"], row["archived"]), ("active", "1"))
        self.assertEqual(self.reports(domain), [])
        self.assertNotIn("\\Seen", self.flags_by_subject("crash")[f"C gzip Report Domain: {domain}"])
        errors = [e for e in self.dmarc_rows(self.local, "errors") if e["mail"] == sha256(mails[0])]
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("report reader stopped", errors[0]["reason"])
        self.assertIn("signal 6", errors[0]["reason"])
        rows = self.dmarc_rows(self.local, "reprocess", sha256(mails[0]))
        self.assertEqual([(r["result"], r["reports"]) for r in rows], [("ok", "1")])
        self.assertEqual(len(self.reports(domain)), 1)

    def test_after_move_moves_to_a_created_folder(self):
        domain = unique_domain()
        mails = self.report_mails(domain, "M")
        self.append("move", mails[:2])
        self.add("move-src", "move", "--purpose", "dmarc", "--after", "move:Processed")
        self.assertEqual(self.sync("move-src")["archived"], "2")
        self.assertEqual(len(self.reports(domain)), 2)
        self.assertEqual(self.flags_by_subject("move"), {})
        self.assertEqual(sorted(self.flags_by_subject("move", "Processed")),
                         sorted(f"M {k} Report Domain: {domain}" for k in ("gzip", "zip")))
        self.assertEqual(self.sync("move-src")["archived"], "0")

    def shown(self, name):
        """`source show NAME` as {(section, field): value}."""
        rows = json.loads(self.source_ok("show", name, fmt="json").stdout.decode())
        return {(row["section"], row["field"]): row["value"] for row in rows}

    def test_refused_after_action_is_pending_and_applied_by_the_next_sync(self):
        """The move target refuses new mail (its maildir is not writable for the remote's
        MAIL_UID) when the reports are committed: the action stays pending in the checkpoint
        and the next sync applies it first, without reading the mails again."""
        domain = unique_domain()
        mails = self.report_mails(domain, "R")
        self.append("retry", mails[:2])
        self.imap("retry").create("Processed")
        target = os.path.join(self.remote.home("retry"), "Maildir", ".Processed")
        subdirs = [os.path.join(target, sub) for sub in ("cur", "new", "tmp")]
        for path in subdirs:
            os.chmod(path, 0o555)
            self.addCleanup(os.chmod, path, 0o700)
        self.add("retry-src", "retry", "--purpose", "dmarc", "--after", "move:Processed")
        self.assertEqual(self.sync("retry-src")["archived"], "2")
        self.assertEqual(len(self.reports(domain)), 2)
        self.assertEqual(len(self.flags_by_subject("retry")), 2)
        self.assertEqual(self.flags_by_subject("retry", "Processed"), {})
        refused = [e for e in self.log("retry-src") if e["what"] == "after move INBOX"]
        self.assertEqual(len(refused), 1, self.log("retry-src"))
        self.assertIn("pending", refused[0]["error"])
        self.assertEqual(self.shown("retry-src")[("folder.INBOX", "pending_after")], "1,2")
        for path in subdirs:
            os.chmod(path, 0o700)
        self.assertEqual(self.sync("retry-src")["archived"], "0")
        self.assertEqual(self.flags_by_subject("retry"), {})
        self.assertEqual(sorted(self.flags_by_subject("retry", "Processed")),
                         sorted(f"R {k} Report Domain: {domain}" for k in ("gzip", "zip")))
        self.assertEqual(len(self.reports(domain)), 2)
        self.assertIn("2 move", self.log("retry-src")[1]["what"])
        self.assertEqual(self.shown("retry-src")[("folder.INBOX", "pending_after")], "")

    def test_after_delete_expunges(self):
        domain = unique_domain()
        mails = self.report_mails(domain, "D")
        self.append("delete", [mails[0], mails[2]])
        self.add("delete-src", "delete", "--purpose", "dmarc", "--after", "delete")
        self.assertEqual(self.sync("delete-src")["archived"], "2")
        self.assertEqual(len(self.reports(domain)), 1)
        self.assertEqual(len(self.failures(domain)), 1)
        self.assertEqual(self.flags_by_subject("delete"), {})
        # The mails are in the archive, from this source.
        archived = {r["id"] for r in self.archive_list(self.local, "--source", "delete-src")}
        self.assertEqual(archived, {sha256(mails[0]), sha256(mails[2])})

    def test_filters_select_what_is_read_and_touched(self):
        picked, newsletter, other, old, large = (unique_domain() for _ in range(5))
        report = lambda domain, subject, sender=at.SENDER, pad=0: wire(report_message(
            subject, [(gzip.compress(aggregate_xml(domain, [("192.0.2.3", 1, "pass", "pass")])),
                       "application", "gzip", "r.xml.gz")],
            sender=sender, body="x" * pad + "\n"))
        self.append("filter", [
            report(picked, f"Report Domain: {picked}", sender="noreply@google.com"),
            report(newsletter, "Weekly newsletter", sender="noreply@google.com"),
            report(other, f"Report Domain: {other}", sender=OTHER_SENDER),
            report(large, f"Report Domain: {large}", sender="noreply@google.com", pad=20000)])
        self.append("filter", [report(old, f"Report Domain: {old}", sender="noreply@google.com")],
                    date=time.time() - 90 * 86400)
        self.add("filter-src", "filter", "--purpose", "dmarc", "--after", "seen",
                 "--subject-filter", "report domain:*", "--sender-filter", "@GOOGLE.com",
                 "--max-age", "30d", "--max-size", "10k")
        row = self.sync("filter-src")
        self.assertEqual((row["status"], row["archived"]), ("active", "1"))
        self.assertEqual(len(self.reports(picked)), 1)
        for domain in (newsletter, other, old, large):
            self.assertEqual(self.reports(domain), [], domain)
        flags = self.flags_by_subject("filter")
        self.assertEqual(flags[f"Report Domain: {picked}"], ["\\Seen"])
        untouched = [s for s, f in flags.items() if s != f"Report Domain: {picked}"]
        self.assertEqual(len(untouched), 4)
        for subject in untouched:
            self.assertEqual(flags[subject], [], subject)
        entry = next(e for e in self.log("filter-src") if e["what"].startswith("dmarc INBOX"))
        self.assertIn("4 skipped by the filters", entry["what"])
        self.assertEqual(self.source_ok("show", "filter-src", fmt="json").returncode, 0)
        self.assertEqual(self.sync("filter-src")["archived"], "0")

    def test_oversized_message_is_skipped_and_passed_over(self):
        self.append("oversize", [make_message("big-0"),
                                 make_message("big-1", ("y" * 76 + "\r\n") * 3000),
                                 make_message("big-2")])
        self.add("oversize-src", "oversize")
        row = self.sync("oversize-src", "--max-message-size", "100k")
        self.assertEqual((row["status"], row["archived"]), ("active", "2"))
        subjects = sorted(r["subject"] for r in self.archive_list(self.local, "--source",
                                                                  "oversize-src"))
        self.assertEqual(subjects, ["big-0", "big-2"])
        (skip,) = [e for e in self.log("oversize-src") if e["what"] == "skip oversized"]
        self.assertIn("UID 2 of", skip["error"])
        self.assertEqual(self.shown("oversize-src")[("folder.INBOX", "last_uid")], "3")
        # Passed over for good: a later sync with no limit does not take it either.
        self.assertEqual(self.sync("oversize-src")["archived"], "0")


if __name__ == "__main__":
    unittest.main()
