"""No parser can hold or fail a delivery (issue 15, item 3): report mail is read by
archiver-dmarc-reader, a process of its own with memory, CPU and time limits. A reader that
crashes, hangs or runs out of memory (the test-only switch ARCHIVER_TEST_DMARC_READER_FAULT
makes it) leaves the delivery accepted, archived and answered within about a second
(archiver_dmarc_wait, default 1s), over LMTP and through dovecot-lda; the mail gets one ledger
error saying how the reading ended, is not read again at its next delivery, and `doveadm dmarc
reprocess` reads it once the fault is gone."""

import gzip
import time
import unittest

import dovecot_instance as di
from archiver_test import BUILD_DIR, ArchiverTestCase, sha256
from dmarc_delivery_fixtures import (DMARC_SETTINGS, REPORT_RCPT, REPORTER, USERS, aggregate_xml,
                                     report_message, unique_domain, wire)

FAULT = "ARCHIVER_TEST_DMARC_READER_FAULT"
# The default archiver_dmarc_wait (1s) is under test here, not the fixtures' longer one.
READER_SETTINGS = {**DMARC_SETTINGS, "archiver_dmarc_wait": None}


def fault_config(fault):
    """Passes the fault switch to Dovecot's services (LMTP) through import_environment."""
    if di.DOVECOT_24:
        return f"import_environment {{\n  {FAULT} = {fault}\n}}\n"
    return f"import_environment = $import_environment {FAULT}={fault}\n"


def report_mail():
    domain = unique_domain()
    xml = aggregate_xml(domain, [("192.0.2.1", 3, "pass", "pass")])
    return domain, wire(report_message(f"Report domain: {domain}", [
        (gzip.compress(xml), "application", "gzip", "report.xml.gz")]))


class ReaderFaultTestCase(ArchiverTestCase):

    def start_with_fault(self, fault, **settings):
        instance = self.start_instance(settings={**READER_SETTINGS, **settings}, users=USERS,
                                       extra_config=fault_config(fault))
        instance.env[FAULT] = fault  # dovecot-lda runs in the test's environment
        return instance

    def mail_errors(self, instance, message):
        return [row for row in self.dmarc_rows(instance, "errors")
                if row["mail"] == sha256(message)]

    def await_mail_errors(self, instance, *messages, timeout=30):
        """Each mail's ledger errors, once every one has some (the reader goes on after the
        delivery's wait; a loaded machine may take its time)."""
        deadline = time.monotonic() + timeout
        while True:
            errors = [self.mail_errors(instance, message) for message in messages]
            if all(errors) or time.monotonic() > deadline:
                return errors
            time.sleep(0.2)

    def timed_delivery(self, instance, message):
        start = time.monotonic()
        self.deliver_ok(instance, [REPORT_RCPT], message, sender=REPORTER)
        return time.monotonic() - start

    def assert_archived_and_delivered(self, instance, message, copies=1):
        self.assertIn(sha256(message), [row["id"] for row in
                                        self.archive_list(instance, "--rcpt", REPORT_RCPT)])
        self.assertEqual(len(instance.maildir_messages("dmarc")), copies)


class CrashingReaderTest(ReaderFaultTestCase):

    def test_a_crashing_reader_fails_no_delivery(self):
        instance = self.start_with_fault("abort")
        domain, message = report_mail()
        self.assertLess(self.timed_delivery(instance, message), 5)
        self.assert_archived_and_delivered(instance, message)
        # How the reading ended is in the ledger, once.
        [errors] = self.await_mail_errors(instance, message)
        self.assertEqual(len(errors), 1, errors)
        self.assertEqual(errors[0]["kind"], "mail")
        self.assertIn("report reader stopped", errors[0]["reason"])
        self.assertIn("signal 6", errors[0]["reason"])
        self.assertEqual(self.dmarc_rows(instance, "list", "--domain", domain), [])
        self.wait_for_log(instance, "the report reader stopped before the end")

        # Delivered again (an MTA retry, a second report address): not read again.
        self.deliver_ok(instance, [REPORT_RCPT], message, sender=REPORTER)
        self.assertEqual(len(self.mail_errors(instance, message)), 1)
        self.assert_archived_and_delivered(instance, message, copies=2)

        # dovecot-lda: the same, and its exit is 0.
        _, lda_message = report_mail()
        start = time.monotonic()
        result = instance.lda("dmarc", lda_message, sender=REPORTER, rcpt=REPORT_RCPT)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual([len(e) for e in self.await_mail_errors(instance, lda_message)], [1])

        # doveadm dmarc reprocess reads through the reader too: the crash ends the reader, not
        # the command, which reports the mail's error.
        result = instance.doveadm("dmarc", "reprocess", sha256(message), fmt="json")
        self.assertEqual(result.returncode, di.EX_DATAERR, result.stderr.decode())
        self.assertIn("report reader stopped", result.stdout.decode())
        # Without the fault (doveadm, like LMTP, takes import_environment from the config),
        # reprocess reads it.
        del instance.env[FAULT]
        instance.restart(extra_config="")
        rows = self.dmarc_rows(instance, "reprocess", sha256(message))
        self.assertEqual([(r["result"], r["reports"]) for r in rows], [("ok", "1")])
        self.assertEqual(self.mail_errors(instance, message), [])
        self.assertEqual(len(self.dmarc_rows(instance, "list", "--domain", domain)), 1)
        self.assert_verify_ok(instance)

    def test_a_reader_out_of_memory_is_stopped(self):
        if di.asan_runtime(BUILD_DIR):
            self.skipTest("no memory limit in sanitizer builds")
        instance = self.start_with_fault("memory", archiver_dmarc_wait="60s")
        _, message = report_mail()
        # Stopped at its memory limit (about 0.7 GiB here), long before its time limit (30s).
        self.assertLess(self.timed_delivery(instance, message), 20)
        self.assert_archived_and_delivered(instance, message)
        [errors] = self.await_mail_errors(instance, message)
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("report reader stopped", errors[0]["reason"])
        self.assertIn("out of memory", errors[0]["reason"])


class HangingReaderTest(ReaderFaultTestCase):

    def test_a_hanging_reader_holds_no_delivery(self):
        # archiver_dmarc_max_time 1s: the reader's deadline is 6s (the budget and a margin).
        instance = self.start_with_fault("hang", archiver_dmarc_max_time="1s")
        _, message = report_mail()
        took = self.timed_delivery(instance, message)
        # archiver_dmarc_wait (1s) and the delivery itself.
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 3.5, "the delivery waited for the hanging reader")
        self.assert_archived_and_delivered(instance, message)
        self.wait_for_log(instance, "still being read after 1000 ms")
        # Delivered again while it is being read: one reader per mail, answered at once.
        again = self.timed_delivery(instance, message)
        self.assertLess(again, 0.9, "a second reader waited for the first")
        self.wait_for_log(instance, "being read already")

        _, lda_message = report_mail()
        start = time.monotonic()
        result = instance.lda("dmarc", lda_message, sender=REPORTER, rcpt=REPORT_RCPT)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertLess(time.monotonic() - start, 3.5, "dovecot-lda waited for the reader")

        # The reader is killed at its deadline and the mail noted with why.
        for errors in self.await_mail_errors(instance, message, lda_message):
            self.assertEqual(len(errors), 1, errors)
            self.assertIn("no answer in time", errors[0]["reason"])


if __name__ == "__main__":
    unittest.main()
