"""Report mail is public (the DMARC address is in DNS): whatever it carries, it can never take
what the mail archive needs. Past archiver_dmarc_max_space new reports are refused with a ledger
error, and one mail's parts together have a budget; the mail that carried them, and all other
mail, is archived and delivered."""

import gzip
import unittest

from archiver_test import ArchiverTestCase, make_message, sha256
from dmarc_delivery_fixtures import (DMARC_SETTINGS, REPORT_RCPT, REPORTER, USERS, aggregate_xml,
                                     report_message, unique_domain, wire)


class DmarcSpaceTest(ArchiverTestCase):

    def test_reports_past_their_space_are_refused_and_mail_goes_on(self):
        instance = self.start_instance(settings={**DMARC_SETTINGS, "archiver_map_size": "64M",
                                                 "archiver_dmarc_max_space": "1M"}, users=USERS)
        rows = [(f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}", 1, "pass", "fail")
                for i in range(1500)]
        refused = None
        stored = 0
        for attempt in range(60):
            domain = unique_domain()
            message = wire(report_message(f"Report domain: {domain}", [
                (gzip.compress(aggregate_xml(domain, rows)), "application", "gzip",
                 "report.xml.gz")]))
            self.deliver_ok(instance, [REPORT_RCPT], message, sender=REPORTER)
            errors = [row for row in self.dmarc_rows(instance, "errors")
                      if row["mail"] == sha256(message)]
            if errors:
                refused = (message, errors)
                break
            stored += 1
        self.assertIsNotNone(refused, "60 reports of 1500 records never reached 1M")
        self.assertGreaterEqual(stored, 2)
        message, errors = refused
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("archiver_dmarc_max_space", errors[0]["reason"])
        # The refused report's mail is archived and delivered like any other.
        self.assertIn(sha256(message), [row["id"] for row in
                                        self.archive_list(instance, "--rcpt", REPORT_RCPT)])
        self.assertEqual(len(instance.maildir_messages("dmarc")), stored + 1)
        self.assertEqual(len(self.dmarc_rows(instance, "list")), stored)
        # Mail goes on: the map's other seven eighths and more are the mail archive's.
        for n in range(5):
            self.deliver_ok(instance, ["alice@example.org"],
                            make_message(f"After the reports {n}", "x\r\n" * 20000))
        self.assert_verify_ok(instance)

    def test_a_mail_of_many_large_reports_is_read_within_its_budget(self):
        """Eight gzip parts, each inflating to nearly archiver_dmarc_max_size (1M here): the
        first four are read (4 x 1M is the mail's budget), then one ledger error says the mail
        is over its budget; the mail is delivered and archived."""
        instance = self.start_instance(settings={**DMARC_SETTINGS,
                                                 "archiver_dmarc_max_size": "1M"}, users=USERS)
        rows = [(f"10.1.{(i >> 8) & 255}.{i & 255}", 1, "pass", "fail") for i in range(1700)]
        domains = [unique_domain() for _ in range(8)]
        parts = []
        for n, domain in enumerate(domains):
            xml = aggregate_xml(domain, rows)
            self.assertLess(len(xml), 1 << 20)
            self.assertGreater(len(xml), 300 << 10)
            parts.append((gzip.compress(xml), "application", "gzip", f"r{n}.xml.gz"))
        message = wire(report_message("Reports", parts))
        self.deliver_ok(instance, [REPORT_RCPT], message, sender=REPORTER)
        read = [domain for domain in domains if self.dmarc_rows(instance, "list", "--domain",
                                                                domain)]
        self.assertEqual(read, domains[:len(read)])
        self.assertGreaterEqual(len(read), 2)
        self.assertLess(len(read), 8)
        errors = [row for row in self.dmarc_rows(instance, "errors")
                  if row["mail"] == sha256(message)]
        self.assertEqual(len(errors), 1, errors)
        self.assertEqual(errors[0]["kind"], "mail")
        self.assertIn("over the mail's budget", errors[0]["reason"])
        self.assertEqual(len(instance.maildir_messages("dmarc")), 1)
        self.assertIn(sha256(message), [row["id"] for row in self.archive_list(instance)])


if __name__ == "__main__":
    unittest.main()
