"""`doveadm archive` as an administrator meets it: output formats, list filters, export, and clear
errors with doveadm's exit codes for a missing archive, an unknown or ambiguous id, a bad date."""

import datetime
import json
import mailbox
import os
import time
import unittest
from collections import Counter

import dovecot_instance as di
from archiver_test import ArchiverTestCase, make_message, sha256


class MissingArchiveTest(ArchiverTestCase):

    def test_commands_on_a_missing_archive_exit_68(self):
        instance = self.start_instance()
        for command in (["list"], ["stats"], ["verify"], ["show", "ab12"], ["fetch", "ab12"]):
            with self.subTest(command=command):
                result = instance.doveadm("archive", *command)
                self.assertEqual(result.returncode, di.EX_NOINPUT, result)
                self.assertIn(instance.archive_dir, result.stderr.decode(),
                              "the error names the archive it looked for")
                self.assertEqual(result.stdout.strip(), b"")


class QueryTest(ArchiverTestCase):
    """One archive with 17 messages from three senders to three users, shared by the tests."""

    instance_options = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.messages = []
        client = cls.instance.lmtp()
        try:
            for number in range(17):
                sender = ("ann@example.net", "ben@example.com", "cat@example.net")[number % 3]
                rcpt = ("alice@example.org", "bob+news@example.org", "carol@example.org")[
                    number % 3]
                subject = f"Report {number:02d}" + (" urgent" if number % 5 == 0 else "")
                message = make_message(subject, f"Body {number}.\r\n", sender=sender)
                result = client.send(sender, [rcpt], message)
                if not result.all_delivered():
                    raise AssertionError(f"delivery failed: {result}")
                cls.messages.append((sender, rcpt, subject, message))
        finally:
            client.close()

    def list_ids(self, *filters):
        return sorted(row["id"] for row in self.archive_list(self.instance, *filters))

    def expected_ids(self, keep):
        return sorted(sha256(m[3]) for m in self.messages if keep(*m[:3]))

    def test_json_output_parses_with_every_field(self):
        result = self.instance.doveadm("archive", "list", fmt="json")
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = json.loads(result.stdout)
        self.assertEqual(len(rows), 17)
        for field in ("id", "received", "origin", "user", "mailbox", "from", "rcpt", "subject",
                      "size"):
            self.assertIn(field, rows[0])
        self.assertEqual(sorted(r["id"] for r in rows), self.expected_ids(lambda *_: True))

    def test_tab_and_flow_output(self):
        result = self.instance.doveadm("archive", "list", fmt="tab")
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.decode().splitlines()
        header = lines[0].split("\t")
        self.assertIn("id", header)
        self.assertEqual(len(lines), 18)
        ids = sorted(line.split("\t")[header.index("id")] for line in lines[1:])
        self.assertEqual(ids, self.expected_ids(lambda *_: True))
        result = self.instance.doveadm("archive", "stats", fmt="flow")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout.decode(), r"\bmessages=17\b")

    def test_filters(self):
        self.assertEqual(self.list_ids("--from", "ben@example.com"),
                         self.expected_ids(lambda s, r, subj: s == "ben@example.com"))
        self.assertEqual(self.list_ids("--rcpt", "bob@example.org"),
                         self.expected_ids(lambda s, r, subj: r == "bob+news@example.org"))
        self.assertEqual(self.list_ids("--user", "carol"),
                         self.expected_ids(lambda s, r, subj: r == "carol@example.org"))
        self.assertEqual(self.list_ids("--subject", "urgent"),
                         self.expected_ids(lambda s, r, subj: "urgent" in subj))
        self.assertEqual(self.list_ids("--from", "ann@example.net", "--subject", "urgent"),
                         self.expected_ids(lambda s, r, subj: s == "ann@example.net"
                                           and "urgent" in subj))
        self.assertEqual(self.list_ids("--mailbox", "INBOX"), self.expected_ids(lambda *_: True))
        self.assertEqual(self.list_ids("--mailbox", "Nowhere"), [])
        self.assertEqual(len(self.list_ids("--limit", "5")), 5)

    def test_time_filters(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        past = (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        future = (now + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        everything = self.expected_ids(lambda *_: True)
        self.assertEqual(self.list_ids("--since", past), everything)
        self.assertEqual(self.list_ids("--until", future), everything)
        self.assertEqual(self.list_ids("--since", future), [])
        self.assertEqual(self.list_ids("--until", past), [])
        self.assertEqual(self.list_ids("--since", now.strftime("%Y-%m-%d")), everything)

    def test_bad_dates_exit_64(self):
        for value in ("yesterday-ish", "2024-13-45", "2024-02-30T25:00:00Z"):
            for option in ("--since", "--until"):
                with self.subTest(option=option, value=value):
                    result = self.instance.doveadm("archive", "list", option, value)
                    self.assertEqual(result.returncode, di.EX_USAGE, result)
                    self.assertIn(value, result.stderr.decode())

    def test_unknown_id_exits_68(self):
        unknown = "0" * 64
        self.assertNotIn(unknown, [sha256(m[3]) for m in self.messages])
        for command in ("show", "fetch"):
            with self.subTest(command=command):
                result = self.instance.doveadm("archive", command, unknown)
                self.assertEqual(result.returncode, di.EX_NOINPUT, result)
                self.assertIn(unknown, result.stderr.decode())
                self.assertEqual(result.stdout, b"")

    def test_ambiguous_and_malformed_ids(self):
        # 17 ids over 16 hex digits: some first digit is shared (pigeonhole principle).
        first_digits = Counter(sha256(m[3])[0] for m in self.messages)
        shared = next(digit for digit, count in first_digits.items() if count > 1)
        for command in ("show", "fetch"):
            with self.subTest(command=command, id=shared):
                result = self.instance.doveadm("archive", command, shared)
                self.assertNotEqual(result.returncode, 0)
                self.assertRegex(result.stderr.decode().lower(),
                                 r"ambiguous|several|more than one|multiple")
                self.assertEqual(result.stdout, b"")
            for bad in ("xyz!", "g" * 64, "a" * 65, ""):
                with self.subTest(command=command, id=bad):
                    result = self.instance.doveadm("archive", command, bad)
                    self.assertEqual(result.returncode, di.EX_USAGE, result)
                    self.assertEqual(result.stdout, b"")
                    self.assertTrue(result.stderr.strip())

    def test_fetch_by_unique_prefix(self):
        message = self.messages[4][3]
        prefix = sha256(message)[:16]
        self.assertEqual(self.fetch(self.instance, prefix), message)

    def test_stats(self):
        stats = self.archive_stats(self.instance)
        self.assertEqual(int(stats["messages"]), 17)
        self.assertEqual(int(stats["deliveries"]), 17)
        self.assertEqual(int(stats["raw_bytes"]), sum(len(m[3]) for m in self.messages))
        self.assertGreater(int(stats["stored_bytes"]), 0)
        for field in ("delivered_bytes", "compression_ratio", "dedup_ratio", "map_size",
                      "map_used"):
            self.assertIn(field, stats)
        self.assertGreaterEqual(int(stats["map_size"]), int(stats["map_used"]))

    def test_export_mbox(self):
        path = os.path.join(self.instance.root, f"export-{time.monotonic_ns()}.mbox")
        result = self.instance.doveadm("archive", "export", "--from", "ann@example.net",
                                       "--format", "mbox", "--output", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        box = mailbox.mbox(path, create=False)
        try:
            exported = sorted(message["Message-ID"] for message in box)
        finally:
            box.close()
        expected = sorted(
            next(line for line in m[3].split(b"\r\n") if line.startswith(b"Message-ID: "))
            [len(b"Message-ID: "):].decode()
            for m in self.messages if m[0] == "ann@example.net")
        self.assertEqual(exported, expected)

    def test_export_eml_writes_one_exact_file_per_message(self):
        path = os.path.join(self.instance.root, f"export-{time.monotonic_ns()}")
        result = self.instance.doveadm("archive", "export", "--user", "bob",
                                       "--format", "eml", "--output", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        files = os.listdir(path)
        contents = []
        for name in files:
            with open(os.path.join(path, name), "rb") as f:
                contents.append(sha256(f.read()))
        self.assertEqual(sorted(contents),
                         self.expected_ids(lambda s, r, subj: r == "bob+news@example.org"))

    def test_user_option_uses_the_users_settings(self):
        # The archive path has no variables here, so -u alice opens the same archive.
        rows = self.archive_list(self.instance, "-u", "alice", "--user", "alice")
        self.assertEqual(sorted(r["id"] for r in rows),
                         self.expected_ids(lambda s, r, subj: r == "alice@example.org"))


class MboxExportTest(ArchiverTestCase):

    def test_from_lines_in_bodies_do_not_split_messages(self):
        instance = self.start_instance()
        messages = [
            make_message("Plain", "Nothing special.\r\n"),
            make_message("From line", "Hello,\r\nFrom the start it was clear.\r\n\r\n"
                                      "From here on, two.\r\n"),
            make_message("Quoted From", ">From an older mbox.\r\n>>From deeper.\r\n"),
        ]
        for message in messages:
            self.deliver_ok(instance, ["alice@example.org"], message)
        path = os.path.join(instance.root, "export.mbox")
        result = instance.doveadm("archive", "export", "--format", "mbox", "--output", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        box = mailbox.mbox(path, create=False)
        try:
            exported = list(box)
        finally:
            box.close()
        # An unescaped "From " body line would start a message without a Subject.
        self.assertEqual(sorted(str(message["Subject"]) for message in exported),
                         ["From line", "Plain", "Quoted From"])
        body = next(m for m in exported if m["Subject"] == "From line").get_payload()
        self.assertRegex(body, r"(?m)^>?From the start it was clear\.$")
        self.assertRegex(body, r"(?m)^>?From here on, two\.$")


if __name__ == "__main__":
    unittest.main()
