"""Settings: an invalid value fails the delivery temporarily and the log names the setting and the
value (Dovecot 2.3), or Dovecot refuses the configuration at start naming them (2.4);
archiver_path variables give per-user archives; exclusions; compression codecs."""

import os
import re
import unittest

import dovecot_instance as di
from archiver_test import BUILD_DIR, SENDER, ArchiverTestCase, make_message, sha256

INVALID_SETTINGS = [
    ("archiver_failure", "maybe"),
    ("archiver_compression", "zlib:42"),
    ("archiver_compression", "lzma"),
    ("archiver_capture", "delivery everything"),
    ("archiver_map_size", "lots"),
    ("archiver_fsync", "perhaps"),
    ("archiver_lock_timeout", "forever"),
    ("archiver_lock_timeout", "0"),
    # Dovecot 2.4 hands a size to our check in bytes: the error names it so.
    ("archiver_dmarc_max_space", "10k", "10240"),
    ("archiver_dmarc_max_space", "16G", "17179869184"),
    ("archiver_dmarc_max_time", "0"),
    ("archiver_dmarc_max_time", "never"),
    ("archiver_dmarc_wait", "11min", "660000ms"),
]
# Values only 2.4 refuses: its variables are %{…}; a 2.3-style %u would be a literal "%u".
INVALID_SETTINGS_24 = [
    ("archiver_path", "/var/lib/dovecot-archive/%u"),
    ("archiver_path", "/var/lib/dovecot-archive/%d"),
]


class InvalidSettingTest(ArchiverTestCase):
    """One generated test per entry of INVALID_SETTINGS and INVALID_SETTINGS_24 (each with its own
    instance and log)."""

    def check_invalid_setting(self, setting, value, shown_24=None):
        if di.DOVECOT_24:
            self.assert_refused_at_start({setting: value}, setting, value, shown_24)
            return
        instance = self.start_instance(settings={setting: value})
        message = make_message(f"Invalid {setting}", "x\r\n")
        result = instance.deliver(SENDER, ["alice@example.org"], message)
        rcpt = "alice@example.org"
        reply = result.rcpt[rcpt] if not result.rcpt[rcpt].ok else result.data[rcpt]
        self.assertTrue(reply.temporary, f"expected 4xx, got {reply}")
        process = instance.lda("bob", message, sender=SENDER, rcpt="bob@example.org")
        self.assertEqual(process.returncode, di.EX_TEMPFAIL, process.stderr)
        self.assertEqual(instance.maildir_messages("alice"), [])
        self.assertEqual(instance.maildir_messages("bob"), [])
        # The log names the setting and the value (written by Dovecot's log process, which
        # may still be on its way when the reply arrives).
        self.wait_for_log(instance, rf"(?m)^.*\b{re.escape(setting)}\b.*{re.escape(value)}")


def _invalid_setting_test(setting, value, shown_24=None):
    return lambda self: self.check_invalid_setting(setting, value, shown_24)


def _invalid_on_24_only_test(setting, value):
    @unittest.skipUnless(di.DOVECOT_24, "Dovecot 2.3 expands %u and %d (user and domain): "
                                        "there they are variables, not errors")
    def test(self):
        self.check_invalid_setting(setting, value)
    return test


for _setting, _value, *_shown_24 in INVALID_SETTINGS:
    setattr(InvalidSettingTest, "test_" + re.sub(r"\W", "_", f"{_setting}_{_value}"),
            _invalid_setting_test(_setting, _value, *_shown_24))
for _setting, _value in INVALID_SETTINGS_24:
    setattr(InvalidSettingTest, "test_" + re.sub(r"\W", "_", f"{_setting}_{_value[-2:]}"),
            _invalid_on_24_only_test(_setting, _value))


class ArchivePathVariablesTest(ArchiverTestCase):

    def test_one_archive_per_user(self):
        # While a later recipient is delivered, an earlier one's archive can still be mapped
        # (two 16G maps do not fit in 17G, see below), so per-user archives need a map that
        # fits the service's vsz_limit at least twice.
        instance = self.start_instance(settings={"archiver_path": "~/archive",
                                                 "archiver_map_size": "2G"})
        message = make_message("Per-user archives", "x\r\n")
        self.deliver_ok(instance, ["alice@example.org", "bob@example.org"], message)
        for user in ("alice", "bob"):
            self.assertTrue(os.path.isdir(os.path.join(instance.home(user), "archive")))
            rows = self.archive_list(instance, "-u", user)
            self.assertEqual([(r["user"], r["id"]) for r in rows], [(user, sha256(message))])
        # Without -u there is no single archive to open: a clear error, not a guess.
        result = instance.doveadm("archive", "list")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("archiver_path", result.stderr.decode())

    def test_many_per_user_archives_through_one_lmtp_process(self):
        # Fourteen 2G maps exceed the 17G vsz_limit: this passes only if a process does not
        # keep every user's archive mapped (one connection, so one lmtp process, serves all).
        users = [f"user{n:02d}" for n in range(14)]
        instance = self.start_instance(users=users, settings={"archiver_path": "~/archive",
                                                              "archiver_map_size": "2G"})
        messages = {user: make_message(f"For {user}", "x\r\n") for user in users}
        shared = make_message("For everybody", "x\r\n")
        with instance.lmtp() as client:
            for user, message in messages.items():
                result = client.send(SENDER, [instance.address(user)], message)
                self.assertTrue(result.all_delivered(), result)
            result = client.send(SENDER, [instance.address(user) for user in users], shared)
            self.assertTrue(result.all_delivered(), result)
        for user in (users[0], users[-1]):
            rows = self.archive_list(instance, "-u", user)
            self.assertEqual(sorted(r["id"] for r in rows),
                             sorted([sha256(messages[user]), sha256(shared)]))

    def test_a_map_beyond_vsz_limit_tempfails_with_a_clear_reason(self):
        # An 18G map does not fit in the shipped vsz_limit of 17G: the delivery is refused
        # temporarily and the log says what to change, not "Cannot allocate memory".
        if di.asan_runtime(BUILD_DIR):
            self.skipTest("built with AddressSanitizer, which needs an unlimited vsz_limit")
        instance = self.start_instance(settings={"archiver_path": "~/archive",
                                                 "archiver_map_size": "18G"})
        message = make_message("Too big for vsz_limit", "x\r\n")
        result = instance.deliver(SENDER, ["alice@example.org"], message)
        self.assertTrue(result.data["alice@example.org"].temporary, result)
        self.wait_for_log(instance, r"vsz_limit")  # the log process may not have written it yet
        self.assertIn("archiver_map_size", instance.log_text())

    def test_large_per_user_maps_take_turns_within_vsz_limit(self):
        # Two 16G maps do not fit in 17G at once, but one LMTP transaction to two users
        # needs them only in turn: the first user's archive is let go (the process keeps
        # archives open only while they fit) before the second one is opened.
        if di.asan_runtime(BUILD_DIR):
            self.skipTest("built with AddressSanitizer, which needs an unlimited vsz_limit")
        instance = self.start_instance(settings={"archiver_path": "~/archive",
                                                 "archiver_map_size": "16G"})
        message = make_message("Two large maps", "x\r\n")
        result = instance.deliver(SENDER, ["alice@example.org", "bob@example.org"], message)
        self.assertTrue(result.all_delivered(), result)
        for user in ("alice", "bob"):
            rows = self.archive_list(instance, "-u", user)
            self.assertEqual([r["id"] for r in rows], [sha256(message)])


class ExclusionTest(ArchiverTestCase):

    def test_excluded_users_and_mailboxes_are_delivered_not_archived(self):
        instance = self.start_instance(settings={
            "archiver_exclude_users": "dave car*",
            "archiver_exclude_mailboxes": "Junk Spam*",
        })
        message = make_message("Exclusions", "x\r\n")
        self.deliver_ok(instance, ["alice@example.org", "carol@example.org", "dave@example.org"],
                        message)
        for user in ("alice", "carol", "dave"):
            self.assertEqual(len(instance.maildir_messages(user)), 1, user)
        for box in ("Junk", "SpamTrap", "Projects"):
            self.lda_ok(instance, "bob", message, sender=SENDER, rcpt="bob@example.org",
                        mailbox=box)
            self.assertEqual(len(instance.maildir_messages("bob", box)), 1, box)
        rows = self.archive_list(instance)
        self.assertEqual(sorted((r["user"], r["mailbox"]) for r in rows),
                         [("alice", "INBOX"), ("bob", "Projects")])


class CompressionTest(ArchiverTestCase):

    def test_codecs_mix_in_one_archive(self):
        instance = self.start_instance(settings={"archiver_compression": "zlib:9"})
        body = "A very compressible line of text.\r\n" * 400
        zlib_message = make_message("Stored with zlib", body)
        self.deliver_ok(instance, ["alice@example.org"], zlib_message)
        instance.restart(settings={"archiver_compression": "none"})
        plain_message = make_message("Stored as is", body)
        self.deliver_ok(instance, ["alice@example.org"], plain_message)

        (zlib_row,) = self.archive_rows(instance, "show", sha256(zlib_message))
        self.assertTrue(zlib_row["codec"].startswith("zlib"), zlib_row)
        self.assertLess(int(zlib_row["stored_size"]), len(zlib_message) // 4)
        (plain_row,) = self.archive_rows(instance, "show", sha256(plain_message))
        self.assertEqual(plain_row["codec"], "none")
        self.assertGreaterEqual(int(plain_row["stored_size"]), len(plain_message))
        self.assert_fetch_exact(instance, zlib_message)
        self.assert_fetch_exact(instance, plain_message)
        self.assert_verify_ok(instance)


if __name__ == "__main__":
    unittest.main()
