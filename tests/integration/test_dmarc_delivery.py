"""DMARC reports at delivery: mails to a report recipient (archiver_dmarc_mailboxes), or filed into
a report mailbox by Sieve or dovecot-lda -m, are read once archived — aggregate reports as .xml.gz
and .zip attachments, inside a forwarded message, ARF failure reports — and checked through
`doveadm dmarc list|failures|errors`. Hostile and oversized attachments never fail the delivery:
the mail is delivered and archived, and the ledger names what could not be read. The shared DMARC
corpus's mails each give a report, a failure report or a clear error."""

import gzip
import os
import re
import unittest
from email.message import EmailMessage
from email.policy import SMTP

import dovecot_instance as di
from archiver_test import SENDER, ArchiverTestCase, make_message, sha256
from dmarc_delivery_fixtures import (DMARC_CORPUS, DMARC_SETTINGS, REPORT_RCPT, REPORTER, USERS,
                                     XXE_DOCTYPE, aggregate_xml, arf_report, gzip_bomb,
                                     report_message, reports_in_mail, unique_domain, wire)
from dmarc_doveadm_fixtures import zip_bytes

SIEVE_PLUGIN = "/usr/lib/dovecot/modules/lib90_sieve_plugin.so"


class DmarcTestCase(ArchiverTestCase):
    """Checks shared by the DMARC delivery tests."""

    def reports(self, instance, domain):
        return self.dmarc_rows(instance, "list", "--domain", domain)

    def errors_of(self, instance, message):
        return [row for row in self.dmarc_rows(instance, "errors") if row["mail"] == sha256(message)]

    def mailbox_copies(self, instance, user, message, mailbox="INBOX"):
        """How many copies of `message` the user's Maildir folder holds (stored with LF line
        ends, after Dovecot's trace headers)."""
        body = message.replace(b"\r\n", b"\n")
        return sum(stored.endswith(body) for stored in instance.maildir_messages(user, mailbox))

    def wait_until_saved(self, instance, message):
        """The instance's log once Dovecot has logged saving `message` (the DMARC log line of a
        delivery comes before that)."""
        message_id = re.search(rb"(?mi)^Message-ID:[ \t]*(<[^>]+>)", message).group(1).decode()
        self.wait_for_log(instance, re.escape(f"msgid={message_id}: saved mail to"))
        return instance.log_text()

    def assert_archived(self, instance, message, rcpt):
        rows = self.archive_list(instance, "--rcpt", rcpt)
        self.assertIn(sha256(message), [row["id"] for row in rows])


class DeliveryTest(DmarcTestCase):
    """One instance for all: each test uses its own policy domain and mails."""

    instance_options = dict(settings=DMARC_SETTINGS, users=USERS)

    def deliver(self, message, rcpts=(REPORT_RCPT,)):
        return self.deliver_ok(self.instance, list(rcpts), message, sender=REPORTER)

    def assert_one_error(self, message, domain, kind, reason):
        """Delivers `message`, which must give no report for `domain` and one ledger error of
        `kind` whose reason contains `reason`; returns the error row."""
        self.deliver(message)
        if domain:
            self.assertEqual(self.reports(self.instance, domain), [])
        (error,) = self.errors_of(self.instance, message)
        self.assertEqual(error["kind"], kind, error)
        self.assertIn(reason, error["reason"])
        return error

    def test_gzip_and_zip_attachments(self):
        domain = unique_domain()
        first = aggregate_xml(domain, [("192.0.2.1", 7, "pass", "pass"),
                                       ("192.0.2.2", 3, "fail", "fail")], report_id="r-gz")
        second = aggregate_xml(domain, [("198.51.100.9", 5, "fail", "pass")],
                               org="Yahoo", report_id="r-zip", begin=1700086400)
        message = wire(report_message(f"Report domain: {domain}", [
            (gzip.compress(first), "application", "gzip", f"google.com!{domain}!1.xml.gz"),
            (zip_bytes("report.xml", second), "application", "zip", f"yahoo!{domain}!2.zip")]))
        self.deliver(message)

        rows = sorted(self.reports(self.instance, domain), key=lambda row: row["report_id"])
        self.assertEqual([(r["org"], r["report_id"], r["domain"], int(r["records"]),
                           int(r["messages"]), int(r["pass"]), int(r["fail"])) for r in rows],
                         [("google.com", "r-gz", domain, 2, 10, 7, 3),
                          ("Yahoo", "r-zip", domain, 1, 5, 5, 0)])
        self.assertEqual((rows[0]["begin"], rows[0]["end"]),
                         ("2023-11-14T22:13:20Z", "2023-11-15T22:13:19Z"))
        self.assertEqual(self.errors_of(self.instance, message), [])
        self.assertEqual(self.mailbox_copies(self.instance, "dmarc", message), 1)
        self.assert_archived(self.instance, message, REPORT_RCPT)
        self.wait_for_log(self.instance,
                          rf"DMARC mail {sha256(message)}: 2 aggregate and 0 failure reports")

    def test_forwarded_report_in_message_rfc822(self):
        domain = unique_domain()
        inner = report_message(f"Report domain: {domain}", [
            (gzip.compress(aggregate_xml(domain, [("192.0.2.7", 4, "pass", "fail")])),
             "application", "gzip", "report.xml.gz")])
        outer = report_message("Fwd: a report for you", [(inner, None, None, None)],
                               sender="postmaster@example.org", body="See the attached mail.\n")
        message = wire(outer)
        self.assertIn(b"Content-Type: message/rfc822", message)
        self.deliver(message)
        (row,) = self.reports(self.instance, domain)
        self.assertEqual((int(row["records"]), int(row["messages"])), (1, 4))

    def test_mail_attached_as_octet_stream(self):
        # A forwarded .eml sent as a plain file (application/octet-stream) is walked as a mail.
        domain = unique_domain()
        inner = report_message(f"Report domain: {domain}", [
            (zip_bytes("r.xml", aggregate_xml(domain, [("192.0.2.16", 3, "pass", "fail")])),
             "application", "zip", "r.zip")])
        message = wire(report_message("Fwd: as a file", [
            (inner.as_bytes(policy=SMTP), "application", "octet-stream", "report.eml")]))
        self.deliver(message)
        (row,) = self.reports(self.instance, domain)
        self.assertEqual((int(row["records"]), int(row["messages"])), (1, 3))

    def test_report_inside_multipart_related(self):
        domain = unique_domain()
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = REPORTER, REPORT_RCPT, "Report"
        message.set_content("<p>Your report</p>", subtype="html")
        message.add_related(gzip.compress(aggregate_xml(domain, [("192.0.2.17", 2, "pass", "pass")])),
                            maintype="application", subtype="gzip", filename="r.xml.gz")
        message = wire(message)
        self.assertIn(b"multipart/related", message)
        self.deliver(message)
        (row,) = self.reports(self.instance, domain)
        self.assertEqual(int(row["messages"]), 2)

    def test_parts_are_decoded_to_their_own_bytes(self):
        # base64 and quoted-printable undone, and nothing else: XML in ISO-8859-1 sent as
        # text/xml with that charset must reach the XML parser as ISO-8859-1 bytes (converted
        # to UTF-8 on the way, the parser would read "SociÃ©tÃ©").
        latin1 = unique_domain()
        printable = unique_domain()
        xml = aggregate_xml(latin1, [("192.0.2.18", 1, "pass", "pass")], org="Société Générale")
        xml = xml.decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")
        message = report_message("Reports", [])
        message.add_attachment(xml, maintype="text", subtype="xml", filename="latin1.xml",
                               params={"charset": "iso-8859-1"}, cte="base64")
        message.add_attachment(aggregate_xml(printable, [("192.0.2.19", 4, "pass", "pass")]),
                               maintype="text", subtype="xml", filename="qp.xml",
                               cte="quoted-printable")
        message = wire(message)
        self.assertIn(b"Content-Transfer-Encoding: quoted-printable", message)
        self.assertIn(b"charset=\"iso-8859-1\"", message)
        self.deliver(message)
        (row,) = self.reports(self.instance, latin1)
        self.assertEqual(row["org"], "Société Générale")
        (row,) = self.reports(self.instance, printable)
        self.assertEqual(int(row["messages"]), 4)

    def test_part_numbers_inside_a_forwarded_mail(self):
        # The hostile attachment is part 2 of the mail attached as part 2: "2.2", as IMAP
        # numbers it.
        domain = unique_domain()
        xxe = aggregate_xml(domain, [("192.0.2.8", 1, "pass", "pass")],
                            prolog=XXE_DOCTYPE)
        inner = report_message("Report", [(xxe, "text", "xml", "report.xml")])
        message = wire(report_message("Fwd: report", [(inner, None, None, None)]))
        error = self.assert_one_error(message, domain, "aggregate", "DOCTYPE")
        self.assertEqual(error["part"], "2.2")

    def test_arf_failure_reports(self):
        domain = unique_domain()
        headers_only = arf_report(domain, "203.0.113.5", f"CEO <ceo@{domain}>", "Wire transfer")
        whole = arf_report(domain, "203.0.113.6", f"Billing <billing@{domain}>",
                           "Invoice overdue", rfc822=True)
        self.deliver(headers_only)
        self.deliver(whole)
        rows = sorted(self.dmarc_rows(self.instance, "failures", "--domain", domain),
                      key=lambda row: row["source_ip"])
        self.assertEqual([(r["domain"], r["source_ip"], r["feedback_type"], r["auth_failure"],
                           r["original_subject"], r["is_dmarc"]) for r in rows],
                         [(domain, "203.0.113.5", "auth-failure", "dmarc", "Wire transfer", "yes"),
                          (domain, "203.0.113.6", "auth-failure", "dmarc", "Invoice overdue",
                           "yes")])
        self.assertIn(f"ceo@{domain}", rows[0]["original_from"])
        self.assertEqual(self.errors_of(self.instance, headers_only), [])
        self.assertEqual(self.errors_of(self.instance, whole), [])

    def test_same_mail_twice_is_one_report(self):
        domain = unique_domain()
        message = wire(report_message(f"Report domain: {domain}", [
            (aggregate_xml(domain, [("192.0.2.3", 2, "pass", "pass")]), "text", "xml",
             "report.xml")]))
        self.deliver(message)
        self.deliver(message)
        self.assertEqual(len(self.reports(self.instance, domain)), 1)
        self.assertEqual(self.errors_of(self.instance, message), [])

    def test_one_mail_to_two_report_addresses_is_read_once(self):
        """A report mail sent to two report addresses in one transaction, then again (an MTA
        retry): archived for each, its reports read once, the later copies only logged."""
        domain = unique_domain()
        message = wire(report_message(f"Report domain: {domain}", [
            (aggregate_xml(domain, [("192.0.2.9", 2, "pass", "pass")]), "text", "xml",
             "report.xml")]))
        self.deliver(message, rcpts=(REPORT_RCPT, "dmarc+ruf@example.org"))
        self.deliver(message)
        self.assertEqual(len(self.reports(self.instance, domain)), 1)
        self.assert_archived(self.instance, message, "dmarc+ruf@example.org")
        mail_id = sha256(message)
        self.wait_for_log(self.instance, f"DMARC mail {mail_id}: read already")
        log = self.instance.log_text()
        self.assertEqual(log.count(f"DMARC mail {mail_id}: 1 aggregate"), 1, log)
        self.assertEqual(log.count(f"DMARC mail {mail_id}: read already"), 2, log)

    def test_recipient_with_detail_and_other_case(self):
        domain = unique_domain()
        message = wire(report_message(f"Report domain: {domain}", [
            (zip_bytes("report.xml", aggregate_xml(domain, [("192.0.2.4", 1, "pass", "pass")])),
             "application", "zip", "report.zip")]))
        self.deliver(message, rcpts=("DMARC+rua@Example.ORG",))
        self.assertEqual(len(self.reports(self.instance, domain)), 1)

    def test_other_recipient_is_not_read(self):
        domain = unique_domain()
        message = wire(report_message(f"Report domain: {domain}", [
            (gzip.compress(aggregate_xml(domain, [("192.0.2.5", 1, "pass", "pass")])),
             "application", "gzip", "report.xml.gz")], to="alice@example.org"))
        self.deliver(message, rcpts=("alice@example.org",))
        self.assert_archived(self.instance, message, "alice@example.org")
        self.assertEqual(self.reports(self.instance, domain), [])
        self.assertEqual(self.errors_of(self.instance, message), [])
        log = self.wait_until_saved(self.instance, message)
        self.assertNotIn(f"DMARC mail {sha256(message)}", log)

    def test_hostile_attachments_are_errors_and_the_mail_is_delivered(self):
        domain = unique_domain()
        xxe = aggregate_xml(domain, [("192.0.2.6", 1, "pass", "pass")],
                            prolog=XXE_DOCTYPE)
        message = wire(report_message(f"Report domain: {domain}", [
            (gzip_bomb(200), "application", "gzip", "bomb.xml.gz"),
            (xxe, "application", "xml", "xxe.xml")]))
        self.assertLess(len(message), 1 << 20)
        self.deliver(message)
        self.assertEqual(self.mailbox_copies(self.instance, "dmarc", message), 1)
        self.assert_archived(self.instance, message, REPORT_RCPT)
        self.assertEqual(self.reports(self.instance, domain), [])
        errors = sorted(self.errors_of(self.instance, message), key=lambda row: row["part"])
        self.assertEqual([(e["kind"], e["part"]) for e in errors],
                         [("payload", "2"), ("aggregate", "3")], errors)
        self.assertIn("DOCTYPE", errors[1]["reason"])
        self.assertNotIn("root:", str(self.dmarc_rows(self.instance, "errors")))
        self.wait_for_log(self.instance,
                          rf"DMARC mail {sha256(message)}: 0 aggregate and 0 failure reports, "
                          rf"2 unreadable")

    def test_attachment_over_max_size_names_the_setting_and_file(self):
        # archiver_dmarc_max_size = 1M here: the walk stops keeping the part at the limit. The
        # long non-ASCII file name travels as RFC 2231 continuations.
        domain = unique_domain()
        records = [(f"192.0.{n // 250}.{n % 250 + 1}", 1, "pass", "pass") for n in range(3000)]
        big = aggregate_xml(domain, records)
        self.assertGreater(len(big), 1 << 20)
        name = "rapport-agrégé-" + "x" * 60 + ".xml"
        message = wire(report_message(f"Report domain: {domain}",
                                      [(big, "application", "xml", name)]))
        self.assertIn(b"filename*0*=", message)
        error = self.assert_one_error(message, domain, "payload", "archiver_dmarc_max_size")
        self.assertEqual(error["part"], "2")
        self.assertIn(name, error["reason"])

    def test_attached_mail_over_max_size_is_an_error(self):
        # A forwarded .eml sent as a file and larger than archiver_dmarc_max_size (1M here) is
        # not read, and says so, instead of being passed over like an image.
        domain = unique_domain()
        records = [(f"192.0.{n // 250}.{n % 250 + 1}", 1, "pass", "pass") for n in range(3000)]
        inner = report_message(f"Report domain: {domain}",
                               [(aggregate_xml(domain, records), "text", "xml", "big.xml")])
        attached = inner.as_bytes(policy=SMTP)
        self.assertGreater(len(attached), 1 << 20)
        message = wire(report_message("Fwd: as a file", [
            (attached, "application", "octet-stream", "forwarded.eml")]))
        error = self.assert_one_error(message, domain, "payload", "archiver_dmarc_max_size")
        self.assertIn("forwarded.eml", error["reason"])

    def test_nesting_beyond_the_limit_is_an_error(self):
        domain = unique_domain()
        mail = report_message("Report", [
            (aggregate_xml(domain, [("192.0.2.9", 1, "pass", "pass")]), "text", "xml", "r.xml")])
        for level in range(10):
            mail = report_message(f"Fwd {level}", [(mail, None, None, None)])
        self.assert_one_error(wire(mail), domain, "mail", "nested deeper than 8 levels")

    def test_too_many_parts_is_an_error(self):
        domain = unique_domain()
        attachments = [(f"note {n}\n".encode(), "text", "plain", f"note{n}.txt")
                       for n in range(300)]
        attachments.append((aggregate_xml(domain, [("192.0.2.10", 1, "pass", "pass")]),
                            "text", "xml", "late.xml"))
        message = wire(report_message(f"Report domain: {domain}", attachments))
        self.assert_one_error(message, domain, "mail", "more than 256 MIME parts")

    def test_mail_without_a_report_is_a_clear_error(self):
        message = make_message("Hello", "Not a report at all.\r\n", to=REPORT_RCPT)
        self.assert_one_error(message, None, "mail", "no DMARC report")

    def test_report_mailbox_rule_with_lda(self):
        domain = unique_domain()
        message = wire(report_message(f"Report domain: {domain}", [
            (gzip.compress(aggregate_xml(domain, [("192.0.2.11", 6, "fail", "pass")])),
             "application", "gzip", "report.xml.gz")], to="bob@example.org"))
        self.lda_ok(self.instance, "bob", message, sender=REPORTER, rcpt="bob@example.org")
        self.assertEqual(self.reports(self.instance, domain), [], "INBOX is not a report mailbox")
        self.lda_ok(self.instance, "bob", message, sender=REPORTER, rcpt="bob@example.org",
                    mailbox="DMARC")
        (row,) = self.reports(self.instance, domain)
        self.assertEqual(int(row["messages"]), 6)
        self.assertEqual(self.mailbox_copies(self.instance, "bob", message, "DMARC"), 1)


class SenderAndSubjectFilterTest(DmarcTestCase):

    instance_options = dict(settings={**DMARC_SETTINGS,
                                      "archiver_dmarc_senders": "*@google.com *@yahoo.com",
                                      "archiver_dmarc_subjects": "Report*domain:*"},
                            users=USERS)

    def test_only_listed_senders_and_subjects_are_read(self):
        cases = [  # (envelope sender, From, subject, read?)
            (REPORTER, REPORTER, "Report domain: x", True),
            ("bounce@mta.example", "dmarc@yahoo.com", "REPORT DOMAIN: y", True),
            ("bounce@mta.example", "someone@example.net", "Report domain: z", False),
            (REPORTER, REPORTER, "Hello there", False),
        ]
        for envelope, header_from, subject, read in cases:
            domain = unique_domain()
            message = wire(report_message(subject, [
                (gzip.compress(aggregate_xml(domain, [("192.0.2.12", 1, "pass", "pass")])),
                 "application", "gzip", "report.xml.gz")], sender=header_from))
            self.deliver_ok(self.instance, [REPORT_RCPT], message, sender=envelope)
            self.assertEqual(len(self.reports(self.instance, domain)), 1 if read else 0,
                             (envelope, header_from, subject))


@unittest.skipUnless(os.path.exists(SIEVE_PLUGIN), "dovecot-sieve (Pigeonhole) is not installed")
class SieveFileintoTest(DmarcTestCase):

    def test_fileinto_report_mailbox(self):
        instance = self.start_instance(settings=DMARC_SETTINGS, users=USERS, sieve=True)
        instance.set_sieve_script(
            "carol", 'require "fileinto";\nif header :contains "subject" "Report domain" '
                     '{ fileinto "DMARC"; }\n')
        domain = unique_domain()
        report = wire(report_message(f"Report domain: {domain}", [
            (zip_bytes("r.xml", aggregate_xml(domain, [("192.0.2.13", 9, "pass", "pass")])),
             "application", "zip", "r.zip")], to="carol@example.org"))
        other = wire(report_message("Lunch?", [
            (zip_bytes("r.xml", aggregate_xml(unique_domain(), [("192.0.2.14", 1, "pass", "pass")])),
             "application", "zip", "r.zip")], to="carol@example.org"))
        self.deliver_ok(instance, ["carol@example.org"], report, sender=REPORTER)
        self.deliver_ok(instance, ["carol@example.org"], other, sender=REPORTER)
        self.assertEqual(len(instance.maildir_messages("carol", "DMARC")), 1)
        (row,) = self.reports(instance, domain)
        self.assertEqual(int(row["messages"]), 9)
        self.assertEqual(len(self.dmarc_rows(instance, "list")), 1, "INBOX mail was read")


class FailureContinueTest(DmarcTestCase):

    def test_unarchived_delivery_is_not_read(self):
        # archiver_failure=continue: a mail that could not be archived is delivered, and not
        # read for reports (it has no archive id to name them by); once the archive works, a
        # redelivery is read.
        instance = self.start_instance(settings={**DMARC_SETTINGS, "archiver_failure": "continue"},
                                       users=USERS)
        os.makedirs(instance.archive_dir, exist_ok=True)
        os.chown(instance.archive_dir, 0, 0)
        os.chmod(instance.archive_dir, 0o500)
        domain = unique_domain()
        message = wire(report_message(f"Report domain: {domain}", [
            (gzip.compress(aggregate_xml(domain, [("192.0.2.15", 1, "pass", "pass")])),
             "application", "gzip", "report.xml.gz")]))
        self.deliver_ok(instance, [REPORT_RCPT], message, sender=REPORTER)
        self.wait_for_log(instance, "saved without archiving")
        self.assertNotIn("DMARC", self.wait_until_saved(instance, message))
        os.chown(instance.archive_dir, di.MAIL_UID, di.MAIL_GID)
        os.chmod(instance.archive_dir, 0o700)
        self.deliver_ok(instance, [REPORT_RCPT], message, sender=REPORTER)
        self.assertEqual(len(self.reports(instance, domain)), 1)


class InvalidSettingTest(ArchiverTestCase):

    INVALID = [("archiver_dmarc_mailboxes", "dmarc"),
               ("archiver_dmarc_mailboxes", "dmarc/"),
               ("archiver_dmarc_max_size", "lots"),
               ("archiver_dmarc_max_ratio", "0")]

    def test_invalid_values_fail_the_delivery_and_are_named(self):
        if di.DOVECOT_24:
            # 2.4 checks them when it loads the configuration: Dovecot does not start.
            for setting, value in self.INVALID:
                with self.subTest(setting=setting, value=value):
                    self.assert_refused_at_start({setting: value}, setting, value)
            return
        instance = None
        for setting, value in self.INVALID:
            if instance is None:
                instance = self.start_instance(settings={setting: value})
            else:
                instance.restart(settings={setting: value})
            log_offset = len(instance.log_text())
            result = instance.deliver(SENDER, ["alice@example.org"],
                                      make_message(f"Invalid {setting}", "x\r\n"))
            reply = result.rcpt["alice@example.org"]
            if reply.ok:
                reply = result.data["alice@example.org"]
            self.assertTrue(reply.temporary, f"{setting}={value}: expected 4xx, got {reply}")
            self.wait_for_log(instance, rf"(?m)^.*\b{re.escape(setting)}={re.escape(value)}:",
                              log_offset)


@unittest.skipUnless(os.path.isdir(DMARC_CORPUS), f"DMARC corpus {DMARC_CORPUS} is absent")
class CorpusTest(DmarcTestCase):
    """Every mail of the shared DMARC corpus, delivered to the report recipient: each aggregate
    report mail gives the reports Python finds in it (same record and message counts), each
    failure report mail one failure report (with the Source-IP of its ARF part), and no errors."""

    def test_every_corpus_mail(self):
        paths = sorted(os.path.join(folder, name)
                       for kind in ("aggregate", "forensic")
                       for folder, _, names in os.walk(os.path.join(DMARC_CORPUS, kind))
                       for name in names if name.endswith(".eml"))
        self.assertTrue(paths)
        instance = self.start_instance(settings={**DMARC_SETTINGS,
                                                 "archiver_dmarc_max_size": None},
                                       users=USERS)
        seen_reports = seen_failures = 0  # before the first delivery there is no archive
        for path in paths:
            relative = os.path.relpath(path, DMARC_CORPUS)
            with open(path, "rb") as f:
                raw = f.read()
            message = di.to_wire(raw)
            self.deliver_ok(instance, [REPORT_RCPT], message, sender=REPORTER)
            self.assertEqual(self.errors_of(instance, message), [], relative)
            reports = self.dmarc_rows(instance, "list")
            failures = self.dmarc_rows(instance, "failures")
            new_reports = len(reports) - seen_reports
            new_failures = len(failures) - seen_failures
            seen_reports, seen_failures = len(reports), len(failures)
            if relative.startswith("aggregate/"):
                expected = reports_in_mail(raw)
                self.assertTrue(expected, f"{relative}: Python finds no report in it")
                self.assertEqual((new_reports, new_failures), (len(expected), 0), relative)
                by_id = {row["report_id"]: row for row in reports}
                for org, report_id, records, messages in expected:
                    self.assertIn(report_id, by_id, relative)
                    row = by_id[report_id]
                    self.assertEqual((row["org"], int(row["records"]), int(row["messages"])),
                                     (org, records, messages), relative)
            else:
                self.assertEqual((new_reports, new_failures), (0, 1), relative)
                source_ip = re.search(rb"(?mi)^Source-IP:[ \t]*([0-9a-f.:]+)", raw)
                if source_ip:
                    self.assertIn(source_ip.group(1).decode(),
                                  [row["source_ip"] for row in failures], relative)
            self.wait_for_log(instance,
                              rf"DMARC mail {sha256(message)}: {new_reports} aggregate and "
                              rf"{new_failures} failure reports")
