"""Remote IMAP sources through imapc, end to end: a second Dovecot instance is the remote (mail
delivered to it over its LMTP, folders changed over its IMAP), the first one runs our
`doveadm archive source …` commands. Everything is checked through those commands and
`doveadm archive list`."""

import json
import os
import pty
import select
import signal
import subprocess
import time
import unittest

import archiver_test as at
from archiver_test import ArchiverTestCase, di, make_message
from imap_fault_proxy import FaultProxy

REMOTE_USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
                "kim", "leo")
# A message the remote fails to give is skipped for good after this many failed syncs in a row
# (kRefusedSyncsBeforeSkip, archiver-core/include/archiver/sources.h).
REFUSED_SYNCS_BEFORE_SKIP = 5
# The remote users' password: unique, so that finding it anywhere is meaningful.
REMOTE_PASSWORD = "s3cr3t-Remote-Pw-7f4e1a"
EX_NOHOST, EX_UNAVAILABLE, EX_NOINPUT, EX_TEMPFAIL, EX_PROTOCOL, EX_NOPERM = 68, 69, 66, 75, 76, 77


class SourcesTest(ArchiverTestCase):
    """One local instance (our plugin, the archive) and one remote (plain IMAP and imaps with a
    certificate from a throwaway CA) shared by the tests; each test uses its own remote user
    and source name."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca_dir = os.path.join(di.tempfile.mkdtemp(prefix="archiver-ca-"))
        cls.addClassCleanup(di.shutil.rmtree, cls.ca_dir, True)
        cls.ca_cert, cert, key = di.make_test_ca(cls.ca_dir)
        os.chmod(cls.ca_dir, 0o755)
        cls.remote = di.DovecotInstance(None, plugin=False, users=REMOTE_USERS,
                                        name="archiver-remote", tls=(cert, key),
                                        password=REMOTE_PASSWORD)
        cls.addClassCleanup(cls.remote.cleanup)
        cls.remote.start()
        cls.local = di.DovecotInstance(at.BUILD_DIR, name="archiver-sources")
        cls.addClassCleanup(cls.local.cleanup)
        cls.local.start()
        cls.outputs = []  # every doveadm stdout/stderr, searched for the password at the end

    def setUp(self):
        self.watch_log(self.local, len(self.local.log_text()))

    # --- helpers -----------------------------------------------------------------------------

    def source(self, *args, input=None, fmt=None, options=()):
        result = self.local.doveadm(*options, "archive", "source", *args, input=input, fmt=fmt)
        self.outputs.append(result.stdout + result.stderr)
        return result

    def source_ok(self, *args, **kwargs):
        result = self.source(*args, **kwargs)
        self.assertEqual(result.returncode, 0,
                         f"source {' '.join(map(str, args))} exited {result.returncode}: "
                         f"{result.stderr.decode(errors='replace')}")
        return result

    def add(self, name, user, *options, password=REMOTE_PASSWORD, port=None):
        return self.source_ok("add", "--host", "127.0.0.1", "--port",
                              port or self.remote.imap_port, "--user", user, "--tls", "none",
                              "--password-stdin", *options, name, input=password.encode() + b"\n")

    def sync(self, name, expect=0):
        result = self.source("sync", name, fmt="json")
        self.assertEqual(result.returncode, expect, result.stderr.decode(errors="replace"))
        rows = json.loads(result.stdout.decode() or "[]")
        self.assertEqual([row["name"] for row in rows], [name])
        return rows[0]

    def info(self, name):
        """`source show NAME` as {(section, field): value}."""
        rows = json.loads(self.source_ok("show", name, fmt="json").stdout.decode())
        return {(row["section"], row["field"]): row["value"] for row in rows}

    def listed(self, name):
        rows = json.loads(self.source_ok("list", fmt="json").stdout.decode() or "[]")
        return next((row for row in rows if row["name"] == name), None)

    def deliver_remote(self, user, subjects, body="Hello.\r\n"):
        for subject in subjects:
            self.deliver_ok(self.remote, [f"{user}@{di.DOMAIN}"],
                            make_message(subject, body, to=f"{user}@{di.DOMAIN}"))

    def archived_subjects(self, prefix):
        """Subjects of the archive's deliveries that start with `prefix` (one per delivery)."""
        rows = self.archive_list(self.local)
        return sorted(row["subject"] for row in rows if row["subject"].startswith(prefix))

    def log_entries(self, name, prefix):
        log = json.loads(self.source_ok("log", name, fmt="json").stdout)
        return [entry for entry in log if entry["what"].startswith(prefix)]

    def retries(self, name, folder="INBOX"):
        """The folder's retry list from `source show`: {uid: "failed n of 5 syncs: reason"}."""
        info = self.info(name)
        retries = {int(field[len("retry."):]): value for (section, field), value in info.items()
                   if section == f"folder.{folder}" and field.startswith("retry.")}
        self.assertEqual(info[(f"folder.{folder}", "retry")], str(len(retries)))
        return retries

    def fault_proxy(self):
        proxy = FaultProxy(self.remote.imap_port)
        self.addCleanup(proxy.close)
        return proxy

    def remote_imap(self, user):
        connection = di.imaplib.IMAP4("127.0.0.1", self.remote.imap_port, timeout=60)
        connection.login(user, REMOTE_PASSWORD)
        return connection

    # --- tests -------------------------------------------------------------------------------

    def test_import_then_new_mail(self):
        subjects = [f"import-{i}" for i in range(3)]
        self.deliver_remote("alice", subjects)
        self.add("alice-src", "alice")
        self.assertEqual(self.listed("alice-src")["status"], "importing")
        row = self.sync("alice-src")
        self.assertEqual((row["status"], row["archived"]), ("active", "3"))
        self.assertEqual(self.archived_subjects("import-"), subjects)
        self.deliver_remote("alice", ["import-3", "import-4"])
        row = self.sync("alice-src")
        self.assertEqual(row["archived"], "2")
        self.assertEqual(self.sync("alice-src")["archived"], "0")
        self.assertEqual(self.archived_subjects("import-"), [f"import-{i}" for i in range(5)])
        info = self.info("alice-src")
        self.assertEqual(info[("folder.INBOX", "last_uid")], "5")
        self.assertEqual(info[("status", "messages")], "5")
        origins = {r["origin"] for r in self.archive_list(self.local)
                   if r["subject"].startswith("import-")}
        self.assertEqual(origins, {"imap"})

    def test_pause_stops_syncing(self):
        self.deliver_remote("bob", ["pause-0"])
        self.add("bob-src", "bob")
        self.sync("bob-src")
        self.source_ok("pause", "bob-src")
        self.assertEqual(self.listed("bob-src")["status"], "paused")
        self.deliver_remote("bob", ["pause-1"])
        result = self.source("sync", "--all", fmt="json")
        self.assertNotIn("bob-src", [r["name"] for r in json.loads(result.stdout or b"[]")])
        self.assertEqual(self.source("sync", "bob-src").returncode, EX_TEMPFAIL)
        self.assertEqual(self.archived_subjects("pause-"), ["pause-0"])
        self.source_ok("resume", "bob-src")
        self.assertEqual(self.sync("bob-src")["archived"], "1")
        self.assertEqual(self.archived_subjects("pause-"), ["pause-0", "pause-1"])

    def test_wrong_password_then_edit(self):
        self.deliver_remote("carol", ["password-0"])
        self.add("carol-src", "carol", password="not-the-password")
        row = self.sync("carol-src", expect=EX_NOPERM)
        self.assertEqual((row["status"], row["failure"]), ("error", "authentication"))
        listed = self.listed("carol-src")
        self.assertEqual(listed["status"], "error")
        self.assertIn("Authentication failed", listed["last_error"])
        log = json.loads(self.source_ok("log", "carol-src", fmt="json").stdout)
        self.assertEqual(log[0]["what"], "sync")
        self.assertIn("Authentication failed", log[0]["error"])
        self.source_ok("edit", "--password-stdin", "carol-src",
                       input=REMOTE_PASSWORD.encode() + b"\n")
        row = self.sync("carol-src")
        self.assertEqual((row["status"], row["archived"]), ("active", "1"))
        self.assertEqual(self.listed("carol-src")["last_error"], "")

    def test_failures_are_classified(self):
        self.add("tcp-src", "dave", port=1)
        self.assertEqual(self.source("test", "tcp-src").returncode, EX_UNAVAILABLE)
        self.source_ok("add", "--host", "nonexistent.invalid", "--user", "dave",
                       "--password-stdin", "dns-src", input=b"x\n")
        self.assertEqual(self.source("test", "dns-src").returncode, EX_NOHOST)
        self.add("folder-src", "dave", "--folders", "INBOX,No-Such-Folder")
        result = self.source("test", "folder-src", fmt="json")
        self.assertEqual(result.returncode, EX_NOINPUT, result.stderr)
        rows = {r["folder"]: r for r in json.loads(result.stdout)}
        self.assertEqual(rows["INBOX"]["synced"], "yes")
        self.assertIn("does not exist", rows["No-Such-Folder"]["error"])
        self.assertEqual(self.sync("folder-src", expect=EX_NOINPUT)["failure"], "missing-folder")
        self.assertIn("No-Such-Folder", self.listed("folder-src")["last_error"])
        for name in ("tcp-src", "dns-src", "folder-src"):
            self.source_ok("remove", name)

    def test_unreadable_remote_message_is_retried_then_skipped(self):
        """The remote cannot read one message file (mode 000; it reads as MAIL_UID): its FETCH
        makes it disconnect. Each sync counts that against the message, reconnects and goes on
        after it; the fifth skips it for good with one log entry. Once skipped it stays so."""
        subjects = [f"unreadable-{i}" for i in range(5)]
        self.deliver_remote("ivan", subjects)
        maildir = os.path.join(self.remote.home("ivan"), "Maildir")
        bad = [os.path.join(maildir, sub, name) for sub in ("new", "cur")
               for name in os.listdir(os.path.join(maildir, sub))
               if b"Subject: unreadable-2" in di.read_bytes(os.path.join(maildir, sub, name))]
        self.assertEqual(len(bad), 1)
        os.chmod(bad[0], 0)
        self.addCleanup(os.chmod, bad[0], 0o600)
        self.add("ivan-src", "ivan")
        row = self.sync("ivan-src")
        self.assertEqual((row["status"], row["archived"]), ("active", "4"))
        self.assertEqual(self.archived_subjects("unreadable-"),
                         [s for s in subjects if s != "unreadable-2"])
        self.assertEqual(self.info("ivan-src")[("folder.INBOX", "last_uid")], "5")
        for failures in range(1, REFUSED_SYNCS_BEFORE_SKIP):
            self.assertEqual(self.log_entries("ivan-src", "skip"), [])
            retries = self.retries("ivan-src")
            self.assertEqual(list(retries), [3])
            self.assertTrue(retries[3].startswith(f"failed {failures} of 5 syncs: "), retries)
            self.assertIn("UID 3", retries[3])
            row = self.sync("ivan-src")
            self.assertEqual((row["status"], row["archived"]), ("active", "0"))
        self.assertEqual(self.retries("ivan-src"), {})
        skips = self.log_entries("ivan-src", "skip")
        self.assertEqual(len(skips), 1, skips)
        self.assertTrue(skips[0]["what"].startswith("skip unreadable UID 3: "), skips)
        self.assertEqual(skips[0]["count"], "1")
        os.chmod(bad[0], 0o600)  # readable again: skipped for good all the same
        self.assertEqual(self.sync("ivan-src")["archived"], "0")
        self.assertEqual(len(self.log_entries("ivan-src", "skip")), 1)

    def test_message_refused_twice_is_archived_by_the_third_sync(self):
        """Behind a proxy, the remote answers the body FETCH of UID 2 with NO [UNAVAILABLE] in two
        syncs: it waits in the retry list (new mail still comes in past it) and the third sync
        archives it. Nothing is skipped or logged as skipped."""
        proxy = self.fault_proxy()
        subjects = [f"transient-{i}" for i in range(4)]
        self.deliver_remote("judy", subjects[:3])
        proxy.refuse(2, connections=2, mode="no")
        self.add("judy-src", "judy", port=proxy.port)
        row = self.sync("judy-src")
        self.assertEqual((row["status"], row["archived"]), ("active", "2"))
        self.assertEqual(self.archived_subjects("transient-"), ["transient-0", "transient-2"])
        self.assertEqual(self.log_entries("judy-src", "skip"), [])
        retries = self.retries("judy-src")
        self.assertEqual(list(retries), [2])
        self.assertEqual(self.listed("judy-src")["retrying"], "1")
        self.assertTrue(retries[2].startswith("failed 1 of 5 syncs: "), retries)
        self.assertIn("[UNAVAILABLE] Backend storage temporarily unavailable", retries[2])
        self.deliver_remote("judy", subjects[3:])
        row = self.sync("judy-src")
        self.assertEqual((row["status"], row["archived"]), ("active", "1"))
        self.assertTrue(self.retries("judy-src")[2].startswith("failed 2 of 5 syncs: "))
        row = self.sync("judy-src")
        self.assertEqual((row["status"], row["archived"]), ("active", "1"))
        self.assertEqual(set(proxy.refused), {2})
        self.assertEqual(self.archived_subjects("transient-"), subjects)
        self.assertEqual(self.retries("judy-src"), {})
        self.assertEqual(self.listed("judy-src")["retrying"], "0")
        self.assertEqual(self.log_entries("judy-src", "skip"), [])
        self.assertEqual(self.sync("judy-src")["archived"], "0")

    def test_message_refused_by_every_sync_is_skipped_once(self):
        """The remote's answer never carries the body of UID 2 (FETCH OK without BODY[]): it is
        retried by each sync and skipped by the fifth with exactly one log entry naming the UID
        and the reason; later syncs no longer ask for it."""
        proxy = self.fault_proxy()
        subjects = [f"refused-{i}" for i in range(3)]
        self.deliver_remote("kim", subjects)
        proxy.refuse(2, connections=None, mode="missing")
        self.add("kim-src", "kim", port=proxy.port)
        for failures in range(1, REFUSED_SYNCS_BEFORE_SKIP + 1):
            refused = len(proxy.refused)
            row = self.sync("kim-src")
            self.assertGreater(len(proxy.refused), refused)  # this sync asked again
            self.assertEqual((row["status"], row["archived"]),
                             ("active", "2" if failures == 1 else "0"))
            if failures < REFUSED_SYNCS_BEFORE_SKIP:
                self.assertEqual(self.log_entries("kim-src", "skip"), [])
                retries = self.retries("kim-src")
                self.assertEqual(list(retries), [2])
                self.assertTrue(retries[2].startswith(f"failed {failures} of 5 syncs: "))
        self.assertEqual(set(proxy.refused), {2})
        self.assertEqual(self.retries("kim-src"), {})
        skips = self.log_entries("kim-src", "skip")
        self.assertEqual(len(skips), 1, skips)
        self.assertTrue(skips[0]["what"].startswith("skip unreadable UID 2: "), skips)
        self.assertIn("BODY[]", skips[0]["what"])
        self.assertEqual(skips[0]["count"], "1")
        requests = proxy.body_requests[2]
        self.assertEqual(self.sync("kim-src")["archived"], "0")
        self.assertEqual(proxy.body_requests[2], requests)
        self.assertEqual(len(self.log_entries("kim-src", "skip")), 1)
        self.assertEqual(self.archived_subjects("refused-"), ["refused-0", "refused-2"])

    def test_refused_message_expunged_on_the_remote_leaves_the_retry_list(self):
        proxy = self.fault_proxy()
        self.deliver_remote("leo", [f"expunged-{i}" for i in range(3)])
        proxy.refuse(2, connections=None, mode="no")
        self.add("leo-src", "leo", port=proxy.port)
        self.assertEqual(self.sync("leo-src")["archived"], "2")
        self.assertEqual(list(self.retries("leo-src")), [2])
        imap = self.remote_imap("leo")
        imap.select("INBOX")
        imap.uid("STORE", "2", "+FLAGS", r"(\Deleted)")
        imap.expunge()
        imap.logout()
        row = self.sync("leo-src")
        self.assertEqual((row["status"], row["archived"]), ("active", "0"))
        self.assertEqual(self.retries("leo-src"), {})
        self.assertEqual(self.log_entries("leo-src", "skip"), [])
        self.assertEqual(self.archived_subjects("expunged-"), ["expunged-0", "expunged-2"])

    def test_kill_during_import_resumes_without_gap_or_duplicate(self):
        total = 600
        body = ("x" * 76 + "\r\n") * 200  # ~16 KB each: several batches
        for i in range(total):
            self.deliver_ok(self.remote, [f"erin@{di.DOMAIN}"],
                            make_message(f"kill-{i:04d}", body, to=f"erin@{di.DOMAIN}"))
        self.add("erin-src", "erin")
        # stderr on a terminal: sync prints a progress line after each committed batch.
        master, slave = pty.openpty()
        process = subprocess.Popen(self.local.doveadm_command("archive", "source", "sync",
                                                              "erin-src"),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=slave, env=self.local.env)
        os.close(slave)
        seen = b""
        deadline = time.monotonic() + 60
        while b"archived" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                seen += os.read(master, 4096)
        process.send_signal(signal.SIGKILL)
        process.wait()
        os.close(master)
        self.assertIn(b"archived", seen)
        info = self.info("erin-src")
        done = int(info[("folder.INBOX", "last_uid")])
        self.assertTrue(0 < done < total, f"killed after UID {done} of {total}")
        self.assertEqual(info[("status", "state")], "importing")
        self.assertEqual(len(self.archived_subjects("kill-")), done)
        row = self.sync("erin-src")
        self.assertEqual((row["status"], int(row["archived"])), ("active", total - done))
        self.assertEqual(self.archived_subjects("kill-"), [f"kill-{i:04d}" for i in range(total)])

    def test_recreated_folder_new_uidvalidity_no_duplicate(self):
        imap = self.remote_imap("frank")
        imap.create("Box")
        messages = [make_message(f"recreate-{i}") for i in range(3)]
        for message in messages:
            imap.append("Box", None, None, message)
        self.add("frank-src", "frank", "--folders", "Box")
        self.assertEqual(self.sync("frank-src")["archived"], "3")
        before = self.info("frank-src")[("folder.Box", "uidvalidity")]
        imap.delete("Box")
        imap.create("Box")
        for message in messages + [make_message("recreate-3")]:
            imap.append("Box", None, None, message)
        imap.logout()
        row = self.sync("frank-src")
        self.assertEqual(row["archived"], "1")
        info = self.info("frank-src")
        self.assertNotEqual(info[("folder.Box", "uidvalidity")], before)
        self.assertEqual(self.archived_subjects("recreate-"),
                         [f"recreate-{i}" for i in range(4)])
        log = json.loads(self.source_ok("log", "frank-src", fmt="json").stdout)
        self.assertTrue(any(entry["what"].startswith("uidvalidity") for entry in log), log)

    def test_tls_untrusted_refused_unless_verify_off(self):
        self.deliver_remote("grace", ["tls-0"])
        common = ["--host", "localhost", "--port", self.remote.imaps_port, "--user", "grace",
                  "--tls", "imaps", "--password-stdin"]
        password = REMOTE_PASSWORD.encode() + b"\n"
        self.source_ok("add", *common, "tls-src", input=password)
        self.assertEqual(self.source("test", "tls-src").returncode, EX_PROTOCOL)
        self.assertEqual(self.sync("tls-src", expect=EX_PROTOCOL)["failure"], "tls")
        self.assertEqual(self.archived_subjects("tls-"), [])
        # Trusted through Dovecot's own ssl_client_ca_file, verification on.
        trusted = self.source("test", "tls-src", options=("-o", f"ssl_client_ca_file={self.ca_cert}"))
        self.assertEqual(trusted.returncode, 0, trusted.stderr)
        self.source_ok("edit", "--tls-verify", "no", "tls-src")
        self.assertEqual(self.sync("tls-src")["status"], "active")
        self.assertEqual(self.archived_subjects("tls-"), ["tls-0"])

    def test_remove_keeps_archived_mail(self):
        self.deliver_remote("heidi", ["remove-0", "remove-1"])
        self.add("heidi-src", "heidi")
        self.sync("heidi-src")
        result = self.source_ok("remove", "heidi-src", fmt="json")
        self.assertIn("2 archived messages stay", json.loads(result.stdout)[0]["note"])
        self.assertIsNone(self.listed("heidi-src"))
        self.assertEqual(self.source("show", "heidi-src").returncode, EX_NOHOST)
        self.assertEqual(self.archived_subjects("remove-"), ["remove-0", "remove-1"])

    def test_password_never_shown_logged_or_stored_in_clear(self):
        self.add("secret-src", "alice")
        self.sync("secret-src")
        show = self.source_ok("show", "secret-src", fmt="json").stdout
        self.assertNotIn(REMOTE_PASSWORD.encode(), show)
        # While a sync runs, no process has the password in its command line.
        process = subprocess.Popen(
            self.local.doveadm_command("archive", "source", "sync", "--all"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.local.env)
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True).stdout
        process.wait()
        self.assertNotIn(REMOTE_PASSWORD.encode(), ps)
        self.assertNotIn(REMOTE_PASSWORD, self.local.log_text())
        for output in self.outputs:
            self.assertNotIn(REMOTE_PASSWORD.encode(), output)
        for folder, _, names in os.walk(self.local.archive_dir):
            for name in names:
                with open(os.path.join(folder, name), "rb") as f:
                    self.assertNotIn(REMOTE_PASSWORD.encode(), f.read(), name)
        # The key is root's, outside the archive directory the mail uid writes.
        self.assertFalse(os.path.lexists(os.path.join(self.local.archive_dir, "sources.key")))
        digest = at.sha256(self.local.archive_dir.encode())[:16]
        key = os.path.join(self.local.root, "state", "archiver", f"sources-{digest}.key")
        st = os.stat(key)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600))

    def test_password_not_accepted_on_the_command_line(self):
        result = self.source("add", "--host", "127.0.0.1", "--user", "alice", "--password",
                             REMOTE_PASSWORD, "cli-src")
        self.assertNotEqual(result.returncode, 0)
        self.assertIsNone(self.listed("cli-src"))
        result = self.source("add", "--host", "127.0.0.1", "--user", "alice", "nopw-src")
        self.assertEqual(result.returncode, di.EX_USAGE)


if __name__ == "__main__":
    unittest.main()
