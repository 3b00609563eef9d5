"""Trust boundaries, attacked on a real Dovecot: the mail uid owns the archive directory (LMTP
writes it), so root's doveadm must never follow, create or trust what it finds there."""

import csv
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import dovecot_instance as di
from archiver_test import BUILD_DIR, SENDER, ArchiverTestCase, make_message, sha256
from dmarc_delivery_fixtures import aggregate_xml as delivery_aggregate_xml
from dmarc_delivery_fixtures import report_message, unique_domain, wire
from dmarc_doveadm_fixtures import MAY_1, aggregate_xml, record
from imap_fault_proxy import FaultProxy

EX_UNAVAILABLE = 69  # sysexits: `source test` could not connect (the password opened)
EX_PROTOCOL = 76  # sysexits: `source test` failed in TLS
PRECIOUS = b"root's file: the mail uid must not be able to change it\n"


class RootNeverActsOnMailUidFilesTest(ArchiverTestCase):

    def archived_instance(self):
        """An instance with one delivery archived, stopped: no LMTP process holds the archive
        while the test plays the mail uid and changes the directory."""
        instance = self.start_instance()
        self.deliver_ok(instance, ["alice@example.org"], make_message("First"))
        instance.stop()
        return instance

    def precious_file(self, instance):
        path = os.path.join(instance.root, "precious")
        with open(path, "wb") as f:
            f.write(PRECIOUS)
        os.chmod(path, 0o600)  # root's: the mail uid can neither read nor write it
        return path

    def plant_link(self, instance, name, target):
        """What the mail uid can do in its archive directory: replace a file by a link."""
        path = os.path.join(instance.archive_dir, name)
        os.unlink(path)
        os.symlink(target, path)
        os.lchown(path, di.MAIL_UID, di.MAIL_GID)

    def assert_refused(self, instance, name, precious):
        for command in (("archive", "stats"), ("archive", "list"), ("archive", "verify"),
                        ("dmarc", "list")):
            result = instance.doveadm(*command)
            self.assertEqual(result.returncode, di.EX_NOPERM, (command, result))
            self.assertIn(f"{name} is a symbolic link", result.stderr.decode(), command)
            with open(precious, "rb") as f:
                self.assertEqual(f.read(), PRECIOUS, f"{command} changed the link's target")
            self.assertEqual(os.stat(precious).st_uid, 0)

    def test_symlinked_lock_file_leaves_its_target_untouched(self):
        instance = self.archived_instance()
        precious = self.precious_file(instance)
        self.plant_link(instance, "lock.mdb", precious)
        self.assert_refused(instance, "lock.mdb", precious)

    def test_symlinked_data_file_leaves_its_target_untouched(self):
        instance = self.archived_instance()
        precious = self.precious_file(instance)
        self.plant_link(instance, "data.mdb", precious)
        self.assert_refused(instance, "data.mdb", precious)

    def add_source(self, instance):
        return instance.doveadm("archive", "source", "add", "--host", "127.0.0.1", "--user",
                                "jane", "--tls", "none", "--password-stdin", "jane",
                                input=b"app-password\n")

    def test_planted_sources_key_is_refused(self):
        # Older versions kept the key in the archive directory, which the mail uid can write:
        # what it plants there (a link to root's file, a key of its own that would let it
        # read every password) is refused while that old key could still be used.
        instance = self.archived_instance()
        precious = self.precious_file(instance)
        key = os.path.join(instance.archive_dir, "sources.key")
        os.symlink(precious, key)
        os.lchown(key, di.MAIL_UID, di.MAIL_GID)
        result = self.add_source(instance)
        self.assertEqual(result.returncode, di.EX_NOPERM, result)
        self.assertIn("sources.key is a symbolic link", result.stderr.decode())
        with open(precious, "rb") as f:
            self.assertEqual(f.read(), PRECIOUS)
        os.unlink(key)
        with open(key, "wb") as f:
            f.write(b"k" * 32)
        os.chown(key, di.MAIL_UID, di.MAIL_GID)
        os.chmod(key, 0o600)
        result = self.add_source(instance)
        self.assertEqual(result.returncode, di.EX_NOPERM, result)
        self.assertIn(f"belongs to uid {di.MAIL_UID}", result.stderr.decode())
        os.unlink(key)  # the key, made by the command outside the archive: accepted
        self.assertEqual(self.add_source(instance).returncode, 0)
        self.assertFalse(os.path.lexists(key))

    def test_lock_file_recreated_by_root_keeps_deliveries_working(self):
        # An archive restored without its lock file (mdb_copy, a move): the first command
        # root runs recreates lock.mdb, which must then still be the mail uid's.
        instance = self.archived_instance()
        lock = os.path.join(instance.archive_dir, "lock.mdb")
        os.unlink(lock)
        self.assertEqual(int(self.archive_stats(instance)["deliveries"]), 1)
        self.assertEqual(os.stat(lock).st_uid, di.MAIL_UID)
        instance.start()
        self.deliver_ok(instance, ["bob@example.org"], make_message("Second"))
        self.assertEqual(int(self.archive_stats(instance)["deliveries"]), 2)


class ArchiveUnderTheWorkersFeetTest(ArchiverTestCase):
    """An admin moves the archive away (and starts a new one) while Dovecot runs: an LMTP
    process that has the old one open must notice at its next delivery and write the new
    one, not the moved-away files."""

    def test_moved_archive_is_noticed_by_an_open_lmtp_process(self):
        instance = self.start_instance()
        moved = instance.archive_dir + ".moved"
        with instance.lmtp() as connection:  # one connection: one LMTP process throughout
            first = connection.send(SENDER, ["alice@example.org"], make_message("First"))
            self.assertTrue(first.all_delivered(), first)
            os.rename(instance.archive_dir, moved)
            os.mkdir(instance.archive_dir, 0o700)
            os.chown(instance.archive_dir, di.MAIL_UID, di.MAIL_GID)
            second = connection.send(SENDER, ["alice@example.org"], make_message("Second"))
            self.assertTrue(second.all_delivered(), second)
        self.assertEqual([r["subject"] for r in self.archive_list(instance)], ["Second"])
        instance.stop()
        os.rename(instance.archive_dir, instance.archive_dir + ".new")
        os.rename(moved, instance.archive_dir)
        self.assertEqual([r["subject"] for r in self.archive_list(instance)], ["First"])


class SharedArchiveTest(ArchiverTestCase):
    """README, Permissions: several mail uids (system users, each its own uid) share one
    archive through a common group (mail_access_groups) and a group-writable setgid
    directory. Each user's delivery runs in a fresh process, so none inherits another's
    open archive."""

    UIDS = {"alice": (64001, 64001), "bob": (64002, 64002)}
    GROUP = 64010

    def test_two_uids_share_one_archive_through_a_group(self):
        def shared_directory(instance):
            os.chown(instance.archive_dir, 0, self.GROUP)
            os.chmod(instance.archive_dir, 0o2770)

        instance = self.start_instance(
            users=("alice", "bob"), uids=self.UIDS, before_start=shared_directory,
            extra_config=f"mail_access_groups = {self.GROUP}\n")
        self.deliver_ok(instance, ["alice@example.org"], make_message("From alice's uid"))
        for name in ("data.mdb", "lock.mdb"):
            st = os.stat(os.path.join(instance.archive_dir, name))
            self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777),
                             (64001, self.GROUP, 0o660), name)
        instance.stop()
        instance.start()  # fresh LMTP processes: bob's opens the files alice's created
        self.deliver_ok(instance, ["bob@example.org"], make_message("From bob's uid"))
        instance.stop()
        os.unlink(os.path.join(instance.archive_dir, "lock.mdb"))
        self.assertEqual(int(self.archive_stats(instance)["deliveries"]), 2)  # root recreates
        st = os.stat(os.path.join(instance.archive_dir, "lock.mdb"))
        self.assertEqual((st.st_gid, st.st_mode & 0o7777), (self.GROUP, 0o660))
        instance.start()
        self.deliver_ok(instance, ["alice@example.org", "bob@example.org"],
                        make_message("To both"))
        self.assertEqual(int(self.archive_stats(instance)["deliveries"]), 4)


class FakeImapServer:
    """Someone else's IMAP server on loopback: counts connections, greets, keeps every byte it
    receives and refuses every command."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.received = b""
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except socket.timeout:
                continue
            self.connections += 1
            with connection:
                connection.settimeout(5)
                connection.sendall(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
                try:
                    while data := connection.recv(4096):
                        self.received += data
                        for line in data.splitlines():
                            tag = line.split(b" ", 1)[0]
                            connection.sendall(tag + b" NO refused\r\n")
                except OSError:
                    pass

    def close(self):
        self.stopping.set()
        self.thread.join()
        self.listener.close()


class SourcePasswordBindingTest(ArchiverTestCase):
    """A source's password opens only for the host, port, user and TLS settings it was given
    with: the mail uid, which writes the archive, cannot send it to a server of its own. The
    key that seals it lives outside the archive directory."""

    PASSWORD = b"app-password-8c1d"

    def source(self, instance, *args, input=None):
        return instance.doveadm("archive", "source", *args, input=input)

    def add(self, instance, name, port=1):
        # Port 1: nothing listens, so `test` shows the password opened (then TCP failed).
        result = self.source(instance, "add", "--host", "127.0.0.1", "--port", str(port),
                             "--user", "jane", "--tls", "none", "--password-stdin", name,
                             input=self.PASSWORD + b"\n")
        self.assertEqual(result.returncode, 0, result)

    def source_entry(self, instance, *args, as_mail_uid=True, input=None):
        """archiver-test-source-entry: the stored entries changed behind doveadm's back."""
        tool = os.path.join(BUILD_DIR, "tests", "archiver-test-source-entry")

        def become_mail_uid():
            os.setgid(di.MAIL_GID)
            os.setuid(di.MAIL_UID)

        result = subprocess.run([tool, instance.archive_dir, *args], input=input,
                                capture_output=True, env=instance.env,
                                preexec_fn=become_mail_uid if as_mail_uid else None)
        self.assertEqual(result.returncode, 0, result)

    def key_path(self, instance):
        digest = sha256(instance.archive_dir.encode())[:16]
        return os.path.join(instance.root, "state", "archiver", f"sources-{digest}.key")

    def test_redirected_settings_never_receive_the_password(self):
        instance = self.start_instance()
        attacker = FakeImapServer()
        self.addCleanup(attacker.close)
        self.add(instance, "bound-src")
        self.assertEqual(self.source(instance, "test", "bound-src").returncode,
                         EX_UNAVAILABLE)
        # The mail uid points the source at its own server.
        self.source_entry(instance, "bound-src", "redirect", "127.0.0.1", str(attacker.port))
        for command in ("test", "sync"):
            result = self.source(instance, command, "bound-src")
            self.assertNotEqual(result.returncode, 0, (command, result))
            self.assertNotIn(result.returncode, (EX_UNAVAILABLE,), (command, result))
            self.assertIn("stored settings of source bound-src", result.stderr.decode(), command)
        listed = [row for row in instance.doveadm_json("archive", "source", "list")
                  if row["name"] == "bound-src"][0]
        self.assertEqual(listed["status"], "error")
        self.assertIn("do not match its sealed password", listed["last_error"])
        self.assertIn("--password-stdin", listed["last_error"])
        self.assertEqual(attacker.connections, 0, attacker.received)
        self.assertNotIn(self.PASSWORD, attacker.received)
        # An edit cannot launder the redirection; re-entering the password can.
        result = self.source(instance, "edit", "--port", "2", "bound-src")
        self.assertEqual(result.returncode, di.EX_NOPERM, result)
        result = self.source(instance, "edit", "--port", "1", "--password-stdin", "bound-src",
                             input=self.PASSWORD + b"\n")
        self.assertEqual(result.returncode, 0, result)
        self.assertEqual(self.source(instance, "test", "bound-src").returncode,
                         EX_UNAVAILABLE)
        self.assertEqual(attacker.connections, 0)

    def test_default_key_lives_outside_the_archive_directory(self):
        instance = self.start_instance()
        self.add(instance, "where-src")
        self.assertFalse(os.path.lexists(os.path.join(instance.archive_dir, "sources.key")))
        key = self.key_path(instance)
        st = os.stat(key)
        self.assertEqual((st.st_uid, st.st_mode & 0o777, st.st_size), (0, 0o600, 32))
        st = os.stat(os.path.dirname(key))
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o700))

    def test_old_key_in_the_archive_is_moved_once(self):
        instance = self.start_instance()
        self.add(instance, "old-src")
        # An older version's install: its key in the archive directory, the password sealed
        # under it bound to the name only.
        os.unlink(self.key_path(instance))
        legacy = os.path.join(instance.archive_dir, "sources.key")
        legacy_key = os.urandom(32)
        with open(os.open(legacy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(legacy_key)
        self.source_entry(instance, "old-src", "seal-v1", legacy, as_mail_uid=False,
                          input=self.PASSWORD + b"\n")
        self.assertEqual(self.source(instance, "test", "old-src").returncode, EX_UNAVAILABLE)

        log_offset = len(instance.log_text())
        result = self.source(instance, "pause", "old-src")  # the first writable command
        self.assertEqual(result.returncode, 0, result)
        logged = result.stderr.decode() + instance.log_text()[log_offset:]
        self.assertIn("sources key moved out of the archive directory: 1 passwords", logged)
        self.assertFalse(os.path.lexists(legacy))
        self.assertTrue(os.path.exists(self.key_path(instance)))
        self.assertEqual(self.source(instance, "test", "old-src").returncode, EX_UNAVAILABLE)

        # Put back by the archive's writers, the old key and password are never used again.
        with open(os.open(legacy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(legacy_key)
        self.source_entry(instance, "old-src", "seal-v1", legacy, as_mail_uid=False,
                          input=self.PASSWORD + b"\n")
        result = self.source(instance, "test", "old-src")
        self.assertNotEqual(result.returncode, EX_UNAVAILABLE, result)
        self.assertIn("older version", result.stderr.decode())
        self.assertEqual(self.source(instance, "resume", "old-src").returncode, 0)
        self.assertTrue(os.path.exists(legacy))
        self.assertNotEqual(self.source(instance, "test", "old-src").returncode,
                            EX_UNAVAILABLE)


class HoldsWriteLock:
    """For tests that need an archive's write lock held by another process."""

    def hold_write_lock(self, instance):
        """archiver-test-hold-write-lock, as the mail uid, holding the archive's write lock
        (our gate and LMDB's lock) until the test ends."""
        tool = os.path.join(BUILD_DIR, "tests", "archiver-test-hold-write-lock")

        def as_mail_uid():
            os.setgid(di.MAIL_GID)
            os.setuid(di.MAIL_UID)

        holder = subprocess.Popen([tool, instance.archive_dir], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, preexec_fn=as_mail_uid,
                                  env=instance.env)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        if holder.stdout.readline() != b"holding\n":
            holder.kill()
            self.fail(f"the holder did not start: {holder.stderr.read().decode()}")
        return holder


class BoundedWaitTest(HoldsWriteLock, ArchiverTestCase):
    """A process that stopped inside a write transaction (a suspended doveadm) must not
    hold deliveries: they give up after archiver_lock_timeout with a temporary failure."""

    def test_delivery_gives_up_while_another_process_holds_the_write_lock(self):
        instance = self.start_instance(settings={"archiver_lock_timeout": "2s"})
        self.deliver_ok(instance, ["alice@example.org"], make_message("Before"))
        holder = self.hold_write_lock(instance)

        started = time.monotonic()
        result = instance.deliver(SENDER, ["bob@example.org"], make_message("Held (LMTP)"))
        waited = time.monotonic() - started
        reply = result.data.get("bob@example.org") or result.rcpt["bob@example.org"]
        self.assertTrue(reply.temporary, f"expected 4xx, got {reply}")
        self.assertGreaterEqual(waited, 2.0)
        self.assertLess(waited, 10.0, "the delivery waited far beyond archiver_lock_timeout")
        self.assertIn("another process has been writing the archive for over 2 s",
                      instance.log_text())

        started = time.monotonic()
        process = instance.lda("carol", make_message("Held (LDA)"), sender=SENDER)
        self.assertEqual(process.returncode, di.EX_TEMPFAIL, process.stderr)
        self.assertLess(time.monotonic() - started, 10.0)

        holder.kill()
        holder.wait()
        self.deliver_ok(instance, ["bob@example.org"], make_message("After"))
        self.assertEqual(int(self.archive_stats(instance)["deliveries"]), 2)


class ReportsNeverParsedAsRootTest(HoldsWriteLock, ArchiverTestCase):
    """doveadm dmarc import runs as root, and reports come from anyone: it reads its files
    while still root (an admin's files may be root's alone), then gives up root for good,
    for the archive owner's uid, before it parses them."""

    def status_ids(self, pid, field):
        with open(f"/proc/{pid}/status") as f:
            line = next(line for line in f if line.startswith(field + ":"))
        return [int(value) for value in line.split()[1:]]

    def test_import_parses_as_the_archive_owner(self):
        instance = self.start_instance()
        self.deliver_ok(instance, ["alice@example.org"], make_message("Before"))
        report = os.path.join(instance.root, "root-only-report.xml")
        with open(report, "wb") as f:
            f.write(aggregate_xml("Org Root", "root-1", "owner.example", MAY_1,
                                  [record("192.0.2.9", 2, "none", "pass", "pass")]))
        os.chmod(report, 0o600)  # only root may read it: opened before root is given up
        # While the archive's write lock is held, the import stops at its first write,
        # after it has begun on the report: its identity can be read then.
        holder = self.hold_write_lock(instance)
        importer = subprocess.Popen(instance.doveadm_command("dmarc", "import", report),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=instance.env)
        self.addCleanup(importer.kill)
        deadline = time.monotonic() + 20
        uids = [0]
        while time.monotonic() < deadline and importer.poll() is None:
            try:
                with open(f"/proc/{importer.pid}/comm") as f:
                    is_doveadm = f.read().strip() == "doveadm"
                uids = self.status_ids(importer.pid, "Uid") if is_doveadm else [0]
            except (OSError, StopIteration):
                pass
            if uids[0] != 0:
                break
            time.sleep(0.05)
        self.assertEqual(uids, [di.MAIL_UID] * 4, "real, effective, saved and fs uid")
        self.assertEqual(self.status_ids(importer.pid, "Gid"), [di.MAIL_GID] * 4)
        self.assertEqual(self.status_ids(importer.pid, "Groups"), [di.MAIL_GID])
        holder.kill()
        holder.wait()
        out, err = importer.communicate(timeout=60)
        self.assertEqual(importer.returncode, 0, err)
        rows = instance.doveadm_json("dmarc", "list")
        self.assertEqual([row["org"] for row in rows], ["Org Root"])


# Starts argv[1:] as a child that gets SIGKILL when this process dies (as the poller starts
# doveadm), prints its pid and waits; the child is reaped by init once this one is killed.
PARENT_DEATH_STARTER = """
import ctypes, os, sys
pid = os.fork()
if pid == 0:
    ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    os.execvp(sys.argv[1], sys.argv[1:])
print(pid, flush=True)
os.waitpid(pid, 0)
"""


def process_alive(pid):
    """Whether `pid` runs (a zombie waiting for init counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class RemoteNeverSpokenToAsRootTest(ArchiverTestCase):
    """doveadm runs the source commands as root, and a remote server is anyone's: the process
    reads the source's password while still root (its key is root's alone), then gives up
    root for good, for the archive owner's uid, before it connects. A proxy in front of a real
    remote Dovecot reads which uid owns each connection made to it."""

    PASSWORD = "r3mote-As-Owner-91b2"

    def setUp(self):
        super().setUp()
        self.remote = di.DovecotInstance(None, plugin=False, users=("rhea", "dora"),
                                         name="archiver-trust-remote", password=self.PASSWORD)
        self.addCleanup(self.remote.cleanup)
        self.remote.start()
        self.proxy = FaultProxy(self.remote.imap_port)
        self.addCleanup(self.proxy.close)
        self.seen = 0  # connections of the proxy already checked

    def source_ok(self, *args, fmt=None, input=None):
        result = self.local.doveadm("archive", "source", *args, fmt=fmt, input=input)
        self.assertEqual(result.returncode, 0, (args, result.stderr.decode(errors="replace")))
        return result

    def add(self, name, user, *options):
        self.source_ok("add", "--host", "127.0.0.1", "--port", str(self.proxy.port), "--user",
                       user, "--tls", "none", "--password-stdin", *options, name,
                       input=self.PASSWORD.encode() + b"\n")

    def synced(self, *args):
        rows = json.loads(self.source_ok("sync", *args, fmt="json").stdout.decode() or "[]")
        return {row["name"]: row["archived"] for row in rows}

    def assert_connected_as_owner(self, connections):
        """The proxy saw `connections` more connections, each from the archive owner's uid."""
        uids = self.proxy.client_uids[self.seen:]
        self.seen = len(self.proxy.client_uids)
        self.assertEqual(len(uids), connections, uids)
        self.assertEqual(uids, [di.MAIL_UID] * connections, "uids that spoke to the remote")

    def deliver_remote(self, user, *subjects):
        for subject in subjects:
            self.deliver_ok(self.remote, [f"{user}@{di.DOMAIN}"],
                            make_message(subject, to=f"{user}@{di.DOMAIN}"))

    def archived(self, prefix):
        return sorted(row["subject"] for row in self.archive_list(self.local)
                      if row["subject"].startswith(prefix))

    def test_test_and_sync_connect_as_the_archive_owner(self):
        self.local = self.start_instance()
        self.deliver_remote("rhea", "Owner 1", "Owner 2")
        self.add("owner-src", "rhea")
        self.source_ok("test", "owner-src")
        self.assert_connected_as_owner(1)
        self.assertEqual(self.synced("owner-src"), {"owner-src": "2"})
        self.assert_connected_as_owner(1)
        self.deliver_remote("rhea", "Owner 3")
        self.assertEqual(self.synced("--all"), {"owner-src": "1"})
        self.assert_connected_as_owner(1)
        # What the poller runs: an edit makes the source due at once.
        self.source_ok("edit", "--interval", "1h", "owner-src")
        self.deliver_remote("rhea", "Owner 4")
        self.assertEqual(self.synced("--due"), {"owner-src": "1"})
        self.assert_connected_as_owner(1)
        self.assertEqual(self.archived("Owner "), ["Owner 1", "Owner 2", "Owner 3", "Owner 4"])

    def test_poller_syncs_as_the_archive_owner(self):
        self.local = self.start_instance(poller=True,
                                         settings={"archiver_sources_poll_interval": "2s"})
        self.deliver_remote("rhea", "Polled 1", "Polled 2")
        self.add("polled-src", "rhea")  # due at once
        deadline = time.monotonic() + 30
        while self.archived("Polled ") != ["Polled 1", "Polled 2"] and time.monotonic() < deadline:
            time.sleep(0.5)
        self.assertEqual(self.archived("Polled "), ["Polled 1", "Polled 2"])
        self.assert_connected_as_owner(1)

    def test_sync_started_with_a_parent_death_signal_keeps_it(self):
        """The poller starts doveadm with PR_SET_PDEATHSIG (it must never outlive the poller);
        Linux forgets it when a process changes its uid: it is set again after root is gone."""
        self.local = self.start_instance()
        silent = socket.socket()  # a remote that never greets: the sync waits on it
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        self.proxy = FaultProxy(silent.getsockname()[1])
        self.addCleanup(self.proxy.close)
        self.add("orphan-src", "rhea")
        starter = subprocess.Popen(
            [sys.executable, "-c", PARENT_DEATH_STARTER, *self.local.doveadm_command(
                "archive", "source", "sync", "orphan-src")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.local.env)
        self.addCleanup(starter.kill)
        sync_pid = int(starter.stdout.readline())
        deadline = time.monotonic() + 20
        while not self.proxy.client_uids and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assert_connected_as_owner(1)  # root is gone: the sync is connected as the owner
        starter.kill()
        starter.wait()
        deadline = time.monotonic() + 10
        while process_alive(sync_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(process_alive(sync_pid), "the sync outlived its parent")

    def test_ca_file_only_root_reads_is_a_clear_tls_failure(self):
        """Connecting as the archive's owner, a CA file only root may read cannot be used: a
        TLS failure that says so (Dovecot 2.3 would crash on it)."""
        ca_dir = tempfile.mkdtemp(prefix="archiver-ca-")
        self.addCleanup(shutil.rmtree, ca_dir, True)
        ca_cert, cert, key = di.make_test_ca(ca_dir)
        os.chmod(ca_dir, 0o755)
        remote = di.DovecotInstance(None, plugin=False, users=("tess",), tls=(cert, key),
                                    name="archiver-trust-tls", password=self.PASSWORD)
        self.addCleanup(remote.cleanup)
        remote.start()
        self.local = self.start_instance()
        self.source_ok("add", "--host", "localhost", "--port", remote.imaps_port, "--user",
                       "tess", "--tls", "imaps", "--password-stdin", "tls-src",
                       input=self.PASSWORD.encode() + b"\n")
        private = tempfile.mkdtemp(prefix="root-only-")
        self.addCleanup(shutil.rmtree, private, True)
        root_ca = os.path.join(private, "ca.pem")
        shutil.copy(ca_cert, root_ca)
        os.chmod(root_ca, 0o600)
        for ca, expected in ((ca_cert, 0), (root_ca, EX_PROTOCOL)):
            result = self.local.doveadm("-o", f"ssl_client_ca_file={ca}", "archive", "source",
                                        "test", "tls-src")
            self.assertEqual(result.returncode, expected, result.stderr)
        self.assertIn("ssl_client_ca_file", result.stderr.decode())
        self.assertIn("Permission denied", result.stderr.decode())

    def test_dmarc_source_reads_reports_as_the_archive_owner(self):
        self.local = self.start_instance()
        domain = unique_domain()
        report = wire(report_message(f"Report Domain: {domain}", [
            (gzip.compress(delivery_aggregate_xml(domain, [("192.0.2.7", 4, "pass", "pass")])),
             "application", "gzip", f"google.com!{domain}!1.xml.gz")], to=f"dora@{di.DOMAIN}"))
        self.deliver_ok(self.remote, [f"dora@{di.DOMAIN}"], report)
        self.add("reports-src", "dora", "--purpose", "dmarc", "--after", "seen")
        self.assertEqual(self.synced("reports-src"), {"reports-src": "1"})
        self.assert_connected_as_owner(1)
        rows = self.dmarc_rows(self.local, "list", "--domain", domain)
        self.assertEqual([row["org"] for row in rows], ["google.com"])


class OutputSafetyTest(ArchiverTestCase):
    """What root's doveadm writes never lands on a planted link, never overwrites, and
    never carries a report sender's spreadsheet formula."""

    def test_eml_export_never_follows_a_planted_link_nor_overwrites(self):
        instance = self.start_instance()
        message = make_message("Exported")
        self.deliver_ok(instance, ["alice@example.org"], message)
        precious = os.path.join(instance.root, "precious")
        with open(precious, "wb") as f:
            f.write(PRECIOUS)
        # A link where the export will write, in a directory the mail uid could reach.
        planted = os.path.join(instance.root, "export-planted")
        os.mkdir(planted, 0o700)
        os.symlink(precious, os.path.join(planted, sha256(message) + ".eml"))
        result = instance.doveadm("archive", "export", "--format", "eml", "--output", planted)
        self.assertEqual(result.returncode, di.EX_CANTCREAT, result)
        self.assertIn("never overwrites", result.stderr.decode())
        with open(precious, "rb") as f:
            self.assertEqual(f.read(), PRECIOUS)
        # The output directory itself a link, or a directory someone else owns: refused.
        linked = os.path.join(instance.root, "export-link")
        os.symlink(planted, linked)
        result = instance.doveadm("archive", "export", "--format", "eml", "--output", linked)
        self.assertEqual(result.returncode, di.EX_CANTCREAT, result)
        theirs = os.path.join(instance.root, "export-theirs")
        os.mkdir(theirs, 0o700)
        os.chown(theirs, di.MAIL_UID, di.MAIL_GID)
        result = instance.doveadm("archive", "export", "--format", "eml", "--output", theirs)
        self.assertEqual(result.returncode, di.EX_CANTCREAT, result)
        self.assertEqual(os.listdir(theirs), [])
        # A fresh directory works; a second export into it does not overwrite.
        fresh = os.path.join(instance.root, "export-fresh")
        for expected in (0, di.EX_CANTCREAT):
            result = instance.doveadm("archive", "export", "--format", "eml", "--output", fresh)
            self.assertEqual(result.returncode, expected, result)
        with open(os.path.join(fresh, sha256(message) + ".eml"), "rb") as f:
            self.assertEqual(f.read(), message)

    def test_control_characters_never_reach_the_terminal(self):
        # Text from anyone that would drive the admin's terminal: a sender's subject (the
        # header decoder already replaces its controls), and a report's org with a C1 CSI
        # (allowed in XML) and a line break (which would forge a row).
        instance = self.start_instance()
        subject = "=?utf-8?q?=1B[31mURGENT=1B[0m_pay?="
        self.deliver_ok(instance, ["alice@example.org"], make_message(subject))
        report = os.path.join(instance.root, "csi.xml")
        with open(report, "wb") as f:
            f.write(aggregate_xml("Evil\u009b2J Org&#10;forged row", "csi-1", "csi.example",
                                  MAY_1, [record("192.0.2.5", 1, "none", "pass", "pass")]))
        self.assertEqual(instance.doveadm("dmarc", "import", report).returncode, 0)
        for fmt in (None, "table", "tab", "flow", "json"):
            for command in (("archive", "list"), ("dmarc", "list"), ("dmarc", "show", "1")):
                result = instance.doveadm(*command, fmt=fmt)
                self.assertEqual(result.returncode, 0, (command, result))
                out = result.stdout
                self.assertNotIn(b"\x1b", out, (fmt, command))
                self.assertNotIn(b"\xc2\x9b", out, (fmt, command))
                if command[0] == "dmarc":
                    self.assertIn(b"Evil\\xc2\\x9b2J Org\\x0aforged row",
                                  out.replace(b"\\\\", b"\\"), (fmt, command))

    def test_csv_export_neutralises_formulas_from_reports(self):
        instance = self.start_instance()
        hostile = [record("192.0.2.7", 3, "none", "pass", "pass",
                          header_from="@SUM(1+1)*cmd|' /C calc'!A0",
                          reasons=(("local_policy", "=HYPERLINK(\"http://x.example\")"),))]
        report = os.path.join(instance.root, "hostile.xml")
        with open(report, "wb") as f:
            f.write(aggregate_xml("=cmd|' /C calc'!A0", "-2+3", "formula.example", MAY_1,
                                  hostile))
        result = instance.doveadm("dmarc", "import", report)
        self.assertEqual(result.returncode, 0, result)
        path = os.path.join(instance.root, "records.csv")
        result = instance.doveadm("dmarc", "export", "--format", "csv", "--output", path)
        self.assertEqual(result.returncode, 0, result)
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual(row["org"], "'=cmd|' /C calc'!A0")
        self.assertEqual(row["report_id"], "'-2+3")
        self.assertEqual(row["header_from"], "'@SUM(1+1)*cmd|' /C calc'!A0")
        self.assertEqual(row["domain"], "formula.example")
        for field, value in row.items():
            self.assertNotIn(value[:1], ("=", "+", "-", "@", "\t", "\r"), field)


if __name__ == "__main__":
    unittest.main()
