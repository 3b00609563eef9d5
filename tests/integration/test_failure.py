"""An archive that cannot be written: with archiver_failure=tempfail (the default) the delivery fails
temporarily (LMTP 4xx for that recipient only, dovecot-lda exit 75) and nothing reaches the
mailbox; once fixed, a retry archives and delivers. With `continue` the mail is delivered and the
failure logged."""

import base64
import os
import re
import shutil
import unittest

import dovecot_instance as di
from archiver_test import SENDER, ArchiverTestCase, make_message, sha256


def make_unwritable_dir(path):
    """A dir owned by root with mode 0500: the mail uid can neither create nor open files in it."""
    os.makedirs(path, exist_ok=True)
    os.chown(path, 0, 0)
    os.chmod(path, 0o500)


def make_writable_dir(path):
    os.chown(path, di.MAIL_UID, di.MAIL_GID)
    os.chmod(path, 0o700)


class TempfailTest(ArchiverTestCase):

    def assert_tempfail(self, result, rcpt):
        reply = result.rcpt[rcpt] if not result.rcpt[rcpt].ok else result.data[rcpt]
        self.assertTrue(reply.temporary, f"expected 4xx for {rcpt}, got {reply}")

    def test_unwritable_archive_tempfails_lmtp_and_lda_until_fixed(self):
        instance = self.start_instance()
        archive = instance.archive_dir
        make_unwritable_dir(archive)
        lmtp_message = make_message("Retry me (LMTP)", "Must not be lost.\r\n")
        lda_message = make_message("Retry me (LDA)", "Must not be lost either.\r\n")

        result = instance.deliver(SENDER, ["alice@example.org"], lmtp_message)
        self.assert_tempfail(result, "alice@example.org")
        self.assertEqual(instance.maildir_messages("alice"), [])
        process = instance.lda("bob", lda_message, sender=SENDER, rcpt="bob@example.org")
        self.assertEqual(process.returncode, di.EX_TEMPFAIL, process.stderr)
        self.assertEqual(instance.maildir_messages("bob"), [])

        make_writable_dir(archive)
        self.deliver_ok(instance, ["alice@example.org"], lmtp_message)
        self.lda_ok(instance, "bob", lda_message, sender=SENDER, rcpt="bob@example.org")
        self.assertEqual(len(instance.maildir_messages("alice")), 1)
        self.assertEqual(len(instance.maildir_messages("bob")), 1)
        rows = self.archive_list(instance)
        self.assertEqual(sorted((r["user"], r["origin"], r["id"]) for r in rows),
                         sorted([("alice", "lmtp", sha256(lmtp_message)),
                                 ("bob", "lda", sha256(lda_message))]))
        self.assert_fetch_exact(instance, lmtp_message)
        self.assert_fetch_exact(instance, lda_message)

    def test_archive_path_under_a_regular_file(self):
        def archive_under_a_file(instance):
            shutil.rmtree(instance.archive_dir)
            with open(instance.archive_dir, "w") as f:
                f.write("not a directory\n")
            instance.configure(settings={"archiver_path": instance.archive_dir + "/store"})

        instance = self.start_instance(before_start=archive_under_a_file)
        message = make_message("Under a file", "x\r\n")
        self.assert_tempfail(instance.deliver(SENDER, ["carol@example.org"], message),
                             "carol@example.org")
        process = instance.lda("carol", message, sender=SENDER, rcpt="carol@example.org")
        self.assertEqual(process.returncode, di.EX_TEMPFAIL, process.stderr)
        self.assertEqual(instance.maildir_messages("carol"), [])

        os.unlink(instance.archive_dir)
        os.makedirs(instance.archive_dir + "/store")
        for path in (instance.archive_dir, instance.archive_dir + "/store"):
            make_writable_dir(path)
        self.deliver_ok(instance, ["carol@example.org"], message)
        (row,) = self.archive_list(instance)
        self.assertEqual((row["user"], row["id"]), ("carol", sha256(message)))

    def test_only_the_failing_recipient_gets_4xx(self):
        # One archive per user: alice's is unwritable, bob's is fine, both in one transaction.
        instance = self.start_instance(
            settings={"archiver_path": di.user_variable("home") + "/archive"})
        make_unwritable_dir(os.path.join(instance.home("alice"), "archive"))
        message = make_message("Two recipients, one broken archive", "x\r\n")
        result = instance.deliver(SENDER, ["alice@example.org", "bob@example.org"], message)
        self.assert_tempfail(result, "alice@example.org")
        self.assertTrue(result.delivered("bob@example.org"), result)
        self.assertEqual(instance.maildir_messages("alice"), [])
        self.assertEqual(len(instance.maildir_messages("bob")), 1)
        (row,) = self.archive_list(instance, "-u", "bob")
        self.assertEqual((row["rcpt"], row["id"]), ("bob@example.org", sha256(message)))

        make_writable_dir(os.path.join(instance.home("alice"), "archive"))
        self.deliver_ok(instance, ["alice@example.org"], message)
        (row,) = self.archive_list(instance, "-u", "alice")
        self.assertEqual((row["rcpt"], row["id"]), ("alice@example.org", sha256(message)))


    def test_retry_after_a_mailbox_failure_keeps_one_record(self):
        # The archive is written, then Dovecot cannot move the mail into Maildir/new: the MTA
        # gets 4xx and retries; the archive must still hold one delivery, not two.
        instance = self.start_instance()
        self.deliver_ok(instance, ["alice@example.org"],
                        make_message("Creates the Maildir", "x\r\n"))
        new_dir = os.path.join(instance.home("alice"), "Maildir", "new")
        make_unwritable_dir(new_dir)
        message = make_message("Delivered on the second try", "x\r\n")
        self.assert_tempfail(instance.deliver(SENDER, ["alice@example.org"], message),
                             "alice@example.org")
        make_writable_dir(new_dir)
        self.deliver_ok(instance, ["alice@example.org"], message)
        rows = [r for r in self.archive_list(instance) if r["id"] == sha256(message)]
        self.assertEqual([(r["rcpt"], r["mailbox"]) for r in rows],
                         [("alice@example.org", "INBOX")])
        self.assertEqual(len(instance.maildir_messages("alice")), 2)

    def test_a_write_failing_after_dovecot_saved_rolls_the_save_back(self):
        # The archive opens, but this message does not fit its map: the write fails while
        # (or after) Dovecot writes the mail, which must then not reach the mailbox.
        # (Smaller than the map, so a larger map or a retry could take it: temporary.)
        instance = self.start_instance(settings={"archiver_map_size": "1M",
                                                 "archiver_compression": "none"})
        small = make_message("Fits", "x\r\n")
        self.deliver_ok(instance, ["alice@example.org"], small)
        big_body = base64.encodebytes(os.urandom(720 * 1024)).replace(b"\n", b"\r\n")
        self.assertLess(len(big_body), 1 << 20)
        big = make_message("Does not fit the map", big_body)
        log_before = len(instance.log_text())
        result = instance.deliver(SENDER, ["alice@example.org", "bob@example.org"], big)
        self.assert_tempfail(result, "alice@example.org")
        self.assert_tempfail(result, "bob@example.org")
        process = instance.lda("carol", big, sender=SENDER, rcpt="carol@example.org")
        self.assertEqual(process.returncode, di.EX_TEMPFAIL, process.stderr)
        self.assertEqual(len(instance.maildir_messages("alice")), 1)
        self.assertEqual(instance.maildir_messages("bob"), [])
        self.assertEqual(instance.maildir_messages("carol"), [])
        for user in ("alice", "bob", "carol"):
            tmp = os.path.join(instance.home(user), "Maildir", "tmp")
            leftovers = os.listdir(tmp) if os.path.isdir(tmp) else []
            self.assertEqual(leftovers, [], f"{user}: the rolled-back save left {leftovers}")
        self.wait_for_log(instance, r"(?i)map.*full|full.*map", log_before)
        # The failed write left the archive as it was: later mail that fits goes on.
        after = make_message("Fits after the failure", "x\r\n")
        self.deliver_ok(instance, ["bob@example.org"], after)
        self.assertEqual(sorted(r["id"] for r in self.archive_list(instance)),
                         sorted([sha256(small), sha256(after)]))
        self.assert_fetch_exact(instance, after)


class RefusedForGoodTest(ArchiverTestCase):
    """A message the archive can never take (its stored form is larger than the whole map)
    fails permanently, naming the limit: LMTP 552 5.2.2 (as over quota), dovecot-lda -e exit 77,
    not a 451 that the MTA would retry for days."""

    def test_a_message_larger_than_the_map_is_refused_for_good(self):
        instance = self.start_instance(settings={"archiver_map_size": "1M"})
        big_body = base64.encodebytes(os.urandom(1536 * 1024)).replace(b"\n", b"\r\n")
        big = make_message("Larger than the whole map", big_body)
        log_before = len(instance.log_text())
        result = instance.deliver(SENDER, ["alice@example.org", "bob@example.org"], big)
        for rcpt in ("alice@example.org", "bob@example.org"):
            reply = result.data.get(rcpt, result.rcpt[rcpt])
            self.assertEqual(reply.code, 552, reply)
            self.assertIn("5.2.2", reply.text)
            self.assertIn("archiver_map_size", reply.text)
        process = instance.lda("carol", big, sender=SENDER, rcpt="carol@example.org",
                               stderr_rejection=True)
        self.assertEqual(process.returncode, di.EX_NOPERM, process.stderr)
        self.assertIn(b"larger than the archive's map", process.stderr)
        for user in ("alice", "bob", "carol"):
            self.assertEqual(instance.maildir_messages(user), [])
        self.wait_for_log(instance, r"archiver: .*larger than the archive's map.* refused for good",
                          log_before)
        # What fits is still archived and delivered.
        small = make_message("Fits", "x\r\n")
        self.deliver_ok(instance, ["alice@example.org"], small)
        self.assertEqual([r["id"] for r in self.archive_list(instance)], [sha256(small)])


class ContinueTest(ArchiverTestCase):

    def test_continue_delivers_and_logs(self):
        instance = self.start_instance(settings={"archiver_failure": "continue"})
        make_unwritable_dir(instance.archive_dir)
        log_before = len(instance.log_text())
        message = make_message("Delivered anyway", "x\r\n")
        self.deliver_ok(instance, ["alice@example.org"], message)
        self.assertEqual(len(instance.maildir_messages("alice")), 1)
        self.lda_ok(instance, "bob", message, sender=SENDER, rcpt="bob@example.org")
        self.assertEqual(len(instance.maildir_messages("bob")), 1)
        for process in ("lmtp(alice)", "lda(bob)"):
            self.wait_for_log(instance, rf"(?im)^.* {re.escape(process)}[<:].*\bError: .*archiv",
                              log_before)


if __name__ == "__main__":
    unittest.main()
