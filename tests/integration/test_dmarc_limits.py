"""Report mail is public (the DMARC address is in DNS): whatever it carries, it can never take
what the mail archive needs. Past archiver_dmarc_max_space new reports are refused with a ledger
error, while the mail that carried them, and all other mail, is archived and delivered."""

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


if __name__ == "__main__":
    unittest.main()
