"""A throwaway Dovecot 2.3 or 2.4 instance in a temp dir, on loopback ports, with or without our
plugin.

The one harness shared by the integration tests, scripts/demo.sh and bench/delivery. It writes a
config (in the syntax of the installed Dovecot's major: DOVECOT_24), passwd-file users and module
staging dirs, starts `dovecot -F`, delivers over LMTP (with per-recipient replies, DATA or BDAT)
and dovecot-lda, and runs our `doveadm archive` commands with the doveadm module made visible
through a private mount namespace. On 2.4 every process that reads the config (the master and
its config process, doveadm, dovecot-lda, doveconf) runs in such a namespace, in which our
settings module is staged too. Python stdlib only.
"""

import atexit
import ctypes
import functools
import imaplib
import json
import os
import re
import shlex
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from typing import NamedTuple

STOCK_MODULE_DIR = "/usr/lib/dovecot/modules"
# doveadm loads its plugins only from here (compiled in); we bind-mount a staging dir over it.
DOVEADM_MODULE_DIR = STOCK_MODULE_DIR + "/doveadm"
# Dovecot 2.4's config process and doveconf load every settings module from here (compiled in);
# without ours every archiver_* setting is refused. Staged and bind-mounted like the doveadm dir.
SETTINGS_MODULE_DIR = STOCK_MODULE_DIR + "/settings"
DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
DOVECONF = "/usr/bin/doveconf"
DOVECOT_LDA = "/usr/lib/dovecot/dovecot-lda"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@functools.lru_cache(maxsize=None)
def dovecot_version():
    """The installed Dovecot's version as a tuple of ints, e.g. (2, 4, 1); None when
    `dovecot --version` cannot be run."""
    try:
        output = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True).stdout
    except OSError:
        return None
    match = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", output)
    return tuple(int(part or 0) for part in match.groups()) if match else None


# Which config syntax and settings model the instances use: 2.4's (top-level archiver_* keys
# known through our settings module, mail_driver/mail_path, named passdb/userdb, …) or 2.3's.
DOVECOT_24 = (dovecot_version() or (2, 3)) >= (2, 4)
# What a 2.4 config must start with. 2.4.0 is what Debian 13's dovecot.conf sets (with it LMTP
# keeps the 2.3 defaults, e.g. a process serves many connections).
DOVECOT_CONFIG_VERSION = "2.4.0"
DOVECOT_STORAGE_VERSION = "2.4.0"
# The settings file we ship for the running major: included, so instances run with what an
# administrator installs.
SHIPPED_CONFIG = os.path.join(REPO_ROOT, "conf.d",
                              "90-archiver-2.4.conf" if DOVECOT_24 else "90-archiver.conf")
# The shared mail corpus next to the repository (absent in a bare clone).
MAIL_CORPUS = os.environ.get("ARCHIVER_MAIL_CORPUS") or os.path.normpath(
    os.path.join(REPO_ROOT, "..", "shared", "corpus", "mail"))
MAIL_PLUGIN_NAME = "lib90_archiver_plugin.so"
DOVEADM_PLUGIN_NAME = "lib10_doveadm_archiver_plugin.so"
# Dovecot 2.4 only: the settings module that makes the config process know archiver_* keys.
SETTINGS_PLUGIN_NAME = "libarchiver_settings.so"

# nobody/nogroup: exists on Debian, is >= first_valid_uid, and owns nothing else of ours.
MAIL_UID = 65534
MAIL_GID = 65534
DOMAIN = "example.org"
DEFAULT_USERS = ("alice", "bob", "carol", "dave")
PASSWORD = "secret"

# sysexits, as doveadm and dovecot-lda use them.
EX_USAGE = 64
EX_DATAERR = 65
EX_NOUSER = 67
EX_NOINPUT = 68
EX_CANTCREAT = 73
EX_TEMPFAIL = 75
EX_NOPERM = 77

START_TIMEOUT = 30.0


def build_dir_from_env(default=None):
    """The CMake build dir: $ARCHIVER_BUILD_DIR, else `default`; None when neither is set."""
    path = os.environ.get("ARCHIVER_BUILD_DIR") or default
    return os.path.abspath(path) if path else None


def plugin_modules(build_dir):
    """(mail plugin path, doveadm module path) inside a CMake build dir."""
    return (os.path.join(build_dir, "plugin", MAIL_PLUGIN_NAME),
            os.path.join(build_dir, "plugin", DOVEADM_PLUGIN_NAME))


def settings_module(build_dir):
    """Path of the Dovecot 2.4 settings module inside a CMake build dir."""
    return os.path.join(build_dir, "plugin", SETTINGS_PLUGIN_NAME)


def required_modules(build_dir):
    """Every module of ours that an instance on the installed Dovecot needs from a build dir."""
    return plugin_modules(build_dir) + ((settings_module(build_dir),) if DOVECOT_24 else ())


def user_variable(name):
    """A Dovecot variable for archiver_path in the installed major's syntax: name is "user",
    "domain" or "home" (2.3: %u, %d, %h; 2.4: %{user}, %{user | domain}, %{home})."""
    if DOVECOT_24:
        return {"user": "%{user}", "domain": "%{user | domain}", "home": "%{home}"}[name]
    return {"user": "%u", "domain": "%d", "home": "%h"}[name]


def mail_location_config(driver, path):
    """Config lines selecting the mailbox format and place (for extra_config): 2.3's
    `mail_location = DRIVER:PATH`, 2.4's `mail_driver` and `mail_path`."""
    if DOVECOT_24:
        return f"mail_driver = {driver}\nmail_path = {path}\n"
    return f"mail_location = {driver}:{path}\n"


@functools.lru_cache(maxsize=None)
def unshare_command():
    """The argv prefix that runs a command in a private mount namespace: `unshare -m`, whose
    default makes every mount private so that our bind mounts never reach the host. In a chroot
    (e.g. a Debian 13 root for the 2.4 lane) / is no mount point and that default fails: then,
    when no mount we can see propagates (the chroot was entered in a private namespace),
    `--propagation unchanged` is used instead."""
    default = ["unshare", "-m"]
    if subprocess.run(default + ["true"], capture_output=True).returncode == 0:
        return default
    unchanged = default + ["--propagation", "unchanged"]
    try:
        with open("/proc/self/mountinfo") as f:
            # The optional fields before " - " say "shared:N" for a mount that propagates.
            shared = any("shared:" in line.split(" - ")[0] for line in f)
    except OSError:
        shared = True
    if not shared and subprocess.run(unchanged + ["true"], capture_output=True).returncode == 0:
        return unchanged
    return default


def environment_problem():
    """Why a real instance cannot run here (a sentence), or None when it can."""
    if os.geteuid() != 0:
        return ("needs root: Dovecot must switch to the mail uid and doveadm needs a private "
                "mount namespace to load our doveadm module")
    for path in (DOVECOT, DOVEADM, DOVECOT_LDA):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (install dovecot-core dovecot-imapd dovecot-lmtpd)"
    if dovecot_version() is None:
        return f"cannot tell the Dovecot version from `{DOVECOT} --version`"
    for path in (DOVEADM_MODULE_DIR,) + ((SETTINGS_MODULE_DIR,) if DOVECOT_24 else ()):
        if not os.path.isdir(path):
            return f"{path} is missing"
    probe = subprocess.run(
        unshare_command() + ["sh", "-c", f"mount --bind /tmp {DOVEADM_MODULE_DIR}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if probe.returncode != 0:
        return f"cannot bind-mount in a private mount namespace: {probe.stderr.strip()}"
    return None


def plugin_problem(build_dir):
    """Why our plugin cannot be tested from `build_dir` (a sentence), or None."""
    if not build_dir:
        return "no build dir: set ARCHIVER_BUILD_DIR to the CMake build dir"
    missing = [p for p in required_modules(build_dir) if not os.path.isfile(p)]
    if missing:
        return "plugin not built: missing " + ", ".join(missing)
    return None


def poller_executable(build_dir):
    """Path of the archiver-poller service executable inside a CMake build dir."""
    return os.path.join(build_dir or "", "imapc-bridge", "archiver-poller")


def shipped_poller_service(executable, service_settings=""):
    """The `service archiver-poller { … }` block of the shipped settings file (active by
    default), with `executable` (the build's) in place of the installed one's name and
    `service_settings` (lines) added."""
    with open(SHIPPED_CONFIG) as f:
        text = f.read()
    match = re.search(r"^service archiver-poller \{\n(?:[^}].*\n)*?\}\n", text, re.M)
    if not match:
        raise RuntimeError(f"{SHIPPED_CONFIG} has no service archiver-poller block")
    block = re.sub(r"^(\s*executable\s*=).*$", rf"\1 {executable}", match.group(0), flags=re.M)
    return block.replace("}\n", service_settings + "}\n")


def disabled_poller_service(build_dir):
    """Overrides the shipped (active) poller block so that Dovecot never starts it: a service
    without listeners and with process_min_avail = 0 is never started. Dovecot's master still
    checks that the executable exists: the build's, or any program when it was not built."""
    executable = poller_executable(build_dir)
    if not os.access(executable, os.X_OK):
        executable = shutil.which("true") or "/bin/true"
    return f"service archiver-poller {{\n  executable = {executable}\n  process_min_avail = 0\n}}\n"


def asan_runtime(build_dir):
    """Path of the AddressSanitizer runtime our plugin links (the asan preset), else None.
    Dovecot's binaries are not instrumented, so that runtime must be preloaded into them."""
    if not build_dir or plugin_problem(build_dir):
        return None
    linked = subprocess.run(["ldd", plugin_modules(build_dir)[0]], capture_output=True, text=True)
    match = re.search(r"^\s*libasan\.so\S* => (\S+)", linked.stdout, re.M)
    return match.group(1) if match else None


# Leak reports would be about Dovecot's own process-lifetime allocations, not ours.
ASAN_OPTIONS = "detect_leaks=0"
SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer")


def sanitizer_reports(text):
    """The lines of `text` (a log, stderr) where a sanitizer reported an error."""
    return [line for line in text.splitlines() if SANITIZER_REPORT.search(line)]


def free_ports(count):
    """`count` distinct TCP ports that were free on 127.0.0.1 a moment ago (start() retries on
    a lost race): all are held
    while they are picked (one at a time, the kernel may hand out the same port twice, and
    Dovecot refuses a config with a duplicate listener)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def to_wire(raw):
    """The bytes an MTA transmits for `raw` in SMTP/LMTP DATA after dot-unstuffing: every CR, LF
    or CRLF line end made CRLF and a final CRLF added when missing (what smtplib and Postfix do)."""
    wire = re.sub(rb"\r\n|\r|\n", b"\r\n", raw)
    if not wire.endswith(b"\r\n"):
        wire += b"\r\n"
    return wire


def corpus_messages(corpus=MAIL_CORPUS, max_size=1024 * 1024):
    """{path relative to the corpus: bytes} of every message file of at most max_size bytes,
    in sorted path order; {} when the corpus is absent."""
    messages = {}
    for folder, _, names in os.walk(corpus):
        for name in names:
            path = os.path.join(folder, name)
            if name not in ("MANIFEST.tsv", "SOURCES.md") and os.path.getsize(path) <= max_size:
                messages[os.path.relpath(path, corpus)] = read_bytes(path)
    return dict(sorted(messages.items()))


def make_test_ca(directory, host="localhost"):
    """A throwaway CA and a server certificate for `host` (subjectAltName DNS) signed by it,
    made with the openssl CLI in `directory`. Returns (ca_cert, server_cert, server_key)."""
    paths = {name: os.path.join(directory, name)
             for name in ("ca.pem", "ca.key", "server.pem", "server.key", "server.csr", "san.cnf")}
    with open(paths["san.cnf"], "w") as f:
        f.write(f"subjectAltName = DNS:{host}\n")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=archiver test CA", "-keyout", paths["ca.key"], "-out", paths["ca.pem"])
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}",
            "-keyout", paths["server.key"], "-out", paths["server.csr"])
    openssl("x509", "-req", "-in", paths["server.csr"], "-CA", paths["ca.pem"], "-CAkey",
            paths["ca.key"], "-CAcreateserial", "-days", "2", "-extfile", paths["san.cnf"],
            "-out", paths["server.pem"])
    return paths["ca.pem"], paths["server.pem"], paths["server.key"]


class Reply(NamedTuple):
    code: int
    text: str

    @property
    def ok(self):
        return 200 <= self.code < 300

    @property
    def temporary(self):
        return 400 <= self.code < 500


class LmtpResult(NamedTuple):
    """Replies of one LMTP transaction. `rcpt` maps every recipient to its RCPT reply; `data` maps
    each recipient that RCPT accepted to its reply after DATA/BDAT LAST; `transmitted` is the
    message as the server received it (after dot-unstuffing)."""
    mail: Reply
    rcpt: dict
    data: dict
    transmitted: bytes

    def delivered(self, rcpt):
        return rcpt in self.data and self.data[rcpt].ok

    def all_delivered(self):
        return bool(self.rcpt) and all(self.delivered(r) for r in self.rcpt)


class LmtpClient:
    """An LMTP client that reads one reply per recipient after DATA (smtplib.LMTP reads only one)
    and can send BDAT chunks. Built on smtplib's connection and reply parsing."""

    def __init__(self, host, port, timeout=120):
        self.smtp = smtplib.LMTP(timeout=timeout)
        self.smtp.connect(host, port)
        code, text = self.smtp.ehlo("client.example.net")
        if code != 250:
            raise smtplib.SMTPHeloError(code, text)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()

    def has_extension(self, name):
        return self.smtp.has_extn(name)

    def send(self, mail_from, rcpts, message, body=None, chunk_size=None):
        """One transaction. With chunk_size None the message goes in DATA and must already be in
        wire form (CRLF line ends, ending in CRLF: see to_wire) so that what is sent is exactly
        `message`; with chunk_size N it goes in BDAT chunks of N bytes, unaltered (any bytes).
        body: None, "8BITMIME" or "BINARYMIME" (the MAIL FROM BODY= parameter)."""
        if chunk_size is None and not message.endswith(b"\r\n"):
            raise ValueError("DATA needs a message in wire form; use to_wire() or BDAT")
        if chunk_size is None and re.search(rb"(?<!\r)\n|\r(?!\n)", message):
            raise ValueError("DATA needs CRLF line ends only; use to_wire() or BDAT")
        options = [f"BODY={body}"] if body else []
        self.smtp.rset()
        mail = Reply(*self._decode(self.smtp.mail(mail_from, options)))
        if not mail.ok:
            return LmtpResult(mail, {}, {}, message)
        rcpt_replies = {}
        for rcpt in rcpts:
            rcpt_replies[rcpt] = Reply(*self._decode(self.smtp.rcpt(rcpt)))
        accepted = [r for r in rcpts if rcpt_replies[r].ok]
        data_replies = {}
        if not accepted:
            return LmtpResult(mail, rcpt_replies, data_replies, message)
        if chunk_size is None:
            self.smtp.putcmd("data")
            code, text = self.smtp.getreply()
            if code != 354:
                reply = Reply(code, text.decode(errors="replace"))
                return LmtpResult(mail, rcpt_replies, {r: reply for r in accepted}, message)
            stuffed = re.sub(rb"(?m)^\.", b"..", message)
            self.smtp.send(stuffed + b".\r\n")
        else:
            offset = 0
            while True:
                chunk = message[offset:offset + chunk_size]
                offset += len(chunk)
                last = offset >= len(message)
                self.smtp.send(f"BDAT {len(chunk)}{' LAST' if last else ''}\r\n".encode()
                               + chunk)
                if last:
                    break
                code, text = self.smtp.getreply()
                if code != 250:
                    reply = Reply(code, text.decode(errors="replace"))
                    return LmtpResult(mail, rcpt_replies, {r: reply for r in accepted}, message)
        for rcpt in accepted:
            data_replies[rcpt] = Reply(*self._decode(self.smtp.getreply()))
        return LmtpResult(mail, rcpt_replies, data_replies, message)

    @staticmethod
    def _decode(reply):
        code, text = reply
        return code, text.decode(errors="replace")


# Every instance still running at interpreter exit is stopped and removed, even after a failure.
_live_instances = set()


@atexit.register
def _stop_leftovers():
    for instance in list(_live_instances):
        instance.cleanup()


# The one namespace of every instance, in the syntax both majors share.
INBOX_NAMESPACE = """namespace inbox {
  inbox = yes
  mailbox Sent {
    special_use = \\Sent
    auto = create
  }
}
"""


class DovecotInstance:
    """One Dovecot instance under a fresh temp dir. Use as a context manager or call cleanup().

    plugin: load our mail plugin (needs build_dir); settings: extra archiver settings (a value
    of None drops a default), written in a `plugin {}` section on 2.3 and as top-level keys on
    2.4; sieve: enable Pigeonhole for LMTP and LDA (script per user via set_sieve_script);
    extra_config: appended verbatim to dovecot.conf (in the running major's syntax, see
    mail_location_config); password: every user's password (a remote for source tests uses one
    of its own, to show it never leaks); config_version: Dovecot 2.4's dovecot_config_version
    (default 2.4.0, Debian 13's shipped value); uids: {user: (uid, gid)} for users that
    are not the common mail uid (MAIL_UID), as on a system-users setup."""

    def __init__(self, build_dir=None, *, plugin=True, settings=None, sieve=False,
                 users=DEFAULT_USERS, extra_config="", name="archiver-it", keep=False,
                 tls=None, poller=False, password=PASSWORD, config_version=None, uids=None):
        if plugin and plugin_problem(build_dir):
            raise RuntimeError(plugin_problem(build_dir))
        self.build_dir = build_dir
        self.users = tuple(users)
        self.uids = {user: (MAIL_UID, MAIL_GID) for user in self.users}
        self.uids.update(uids or {})
        self.password = password
        self.keep = keep
        # 2.4 only: dovecot_config_version (2.4.1 changes defaults, e.g. one LMTP connection
        # per process); 2.3 has no such setting.
        if config_version is not None and not DOVECOT_24:
            raise RuntimeError("config_version needs Dovecot 2.4")
        self.config_version = config_version or DOVECOT_CONFIG_VERSION
        self.root = tempfile.mkdtemp(prefix=f"{name}-")
        os.chmod(self.root, 0o755)  # the mail uid must reach homes and the archive
        self.name = f"{name}-{os.path.basename(self.root).rsplit('-', 1)[-1]}"
        self.config_path = os.path.join(self.root, "dovecot.conf")
        self.log_path = os.path.join(self.root, "dovecot.log")
        self.archive_dir = os.path.join(self.root, "archive")
        self.mail_module_dir = os.path.join(self.root, "modules")
        self.doveadm_module_dir = os.path.join(self.root, "doveadm-modules")
        # 2.4 only: mounted over SETTINGS_MODULE_DIR for every process that reads the config.
        self.settings_module_dir = os.path.join(self.root, "settings-modules")
        self.process = None
        self.lmtp_port = self.imap_port = None
        # tls: (certificate, key) paths: ssl = yes and an imaps listener on self.imaps_port.
        self.tls = tls
        self.imaps_port = None
        # poller=True: the shipped service archiver-poller block runs with the built
        # executable, and Dovecot runs in a private mount namespace in which our doveadm
        # module is staged, so that the doveadm the poller runs loads it. poller=False: the
        # shipped block is overridden so that the poller never starts.
        self.poller = poller
        if poller and not os.access(poller_executable(build_dir), os.X_OK):
            raise RuntimeError(f"poller not built: missing {poller_executable(build_dir)}")
        self.asan_runtime = asan_runtime(build_dir)
        # The environment for the processes we start that load our plugin (lda, doveadm).
        self.env = dict(os.environ)
        if self.asan_runtime:
            self.env.update(LD_PRELOAD=self.asan_runtime, ASAN_OPTIONS=ASAN_OPTIONS)
        self.configure(plugin=plugin, settings=settings, sieve=sieve, extra_config=extra_config)
        self._create_tree()
        _live_instances.add(self)

    # --- setup -------------------------------------------------------------------------------

    def configure(self, *, plugin=None, settings=None, sieve=None, extra_config=None):
        """Change what the next start() writes into dovecot.conf (keyword left None: unchanged)."""
        if plugin is not None:
            self.plugin = plugin
        if settings is not None or not hasattr(self, "settings"):
            self.settings = {"archiver_path": self.archive_dir}
            self.settings.update(settings or {})
        if sieve is not None:
            self.sieve = sieve
        if extra_config is not None:
            self.extra_config = extra_config
        if self.plugin:
            problem = plugin_problem(self.build_dir)
            if problem:
                raise RuntimeError(problem)

    def _create_tree(self):
        for sub in ("run", "state", "home"):
            os.mkdir(os.path.join(self.root, sub))
        self._make_mail_dir(self.archive_dir)
        with open(os.path.join(self.root, "passwd"), "w") as f:
            for user in self.users:
                home = self.home(user)
                uid, gid = self.uids[user]
                self._make_mail_dir(home, uid, gid)
                f.write(f"{user}:{{PLAIN}}{self.password}:{uid}:{gid}::{home}::\n")
        # dovecot-lda writes log_path itself after dropping to the mail uid.
        open(self.log_path, "a").close()
        os.chown(self.log_path, MAIL_UID, MAIL_GID)
        self._stage_modules()

    @staticmethod
    def _make_mail_dir(path, uid=MAIL_UID, gid=MAIL_GID):
        os.makedirs(path, exist_ok=True)
        os.chown(path, uid, gid)

    def _stage_modules(self):
        """mail_plugin_dir must hold every mail plugin we load (ours and Pigeonhole's), and the
        doveadm staging dir replaces the stock doveadm module dir, so it gets copies of the stock
        modules (symlinks into the dir we mount over would point at themselves); on 2.4 the
        settings staging dir likewise replaces the stock settings module dir."""
        mounted = self._mounted_module_dirs()
        for path in (self.mail_module_dir,) + tuple(mounted):
            os.mkdir(path)
        # A system-wide install of the archiver (cmake --install) must not shadow the build
        # under test: its modules are left out of every staging dir.
        ours = (MAIL_PLUGIN_NAME, DOVEADM_PLUGIN_NAME, SETTINGS_PLUGIN_NAME)
        for entry in os.listdir(STOCK_MODULE_DIR):
            if entry.endswith(".so") and entry not in ours:
                os.symlink(os.path.join(STOCK_MODULE_DIR, entry),
                           os.path.join(self.mail_module_dir, entry))
        for staging, stock in mounted.items():
            for entry in os.listdir(stock):
                if entry in ours:
                    continue
                shutil.copy2(os.path.join(stock, entry), staging)
        if self.build_dir and not plugin_problem(self.build_dir):
            self._link_our_modules()

    def _mounted_module_dirs(self):
        """{staging dir: the stock module dir it is bind-mounted over}."""
        mounted = {self.doveadm_module_dir: DOVEADM_MODULE_DIR}
        if DOVECOT_24:
            mounted[self.settings_module_dir] = SETTINGS_MODULE_DIR
        return mounted

    def _link_our_modules(self):
        """(Re)points the staging dirs' links to our modules (two, three on 2.4) at
        self.build_dir's."""
        modules = list(zip(plugin_modules(self.build_dir),
                           (self.mail_module_dir, self.doveadm_module_dir)))
        if DOVECOT_24:
            modules.append((settings_module(self.build_dir), self.settings_module_dir))
        for module, directory in modules:
            link = os.path.join(directory, os.path.basename(module))
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(module, link)

    def _knows_archiver_settings(self):
        """Whether the config may hold archiver_* settings: always on 2.3 (free-form plugin
        settings); on 2.4 only when our settings module is staged (a plugin=False instance
        without a build, e.g. a remote for source tests, has none and writes none)."""
        return not DOVECOT_24 or os.path.lexists(
            os.path.join(self.settings_module_dir, SETTINGS_PLUGIN_NAME))

    def in_namespace(self, command, *, doveadm_modules=True):
        """`command` (a list) run in a private mount namespace in which the staged module dirs
        are mounted over the stock ones: the doveadm dir (unless doveadm_modules=False) and, on
        2.4, the settings dir. `unshare` without --fork execs: the pid is the command's.
        Returns the command unchanged when nothing is to be mounted (2.3 without doveadm)."""
        mounts = [(staging, stock) for staging, stock in self._mounted_module_dirs().items()
                  if doveadm_modules or stock != DOVEADM_MODULE_DIR]
        if not mounts:
            return list(command)
        # The staging dirs are passed as $0, $1, … so that the script needs no quoting of them.
        steps = [f'mount --bind "${index}" {shlex.quote(stock)}'
                 for index, (_, stock) in enumerate(mounts)]
        shift = [f"shift {len(mounts) - 1}"] if len(mounts) > 1 else []
        script = " && ".join(steps + shift + ['exec "$@"'])
        return (unshare_command() + ["sh", "-c", script] + [staging for staging, _ in mounts]
                + list(command))

    def use_build(self, build_dir):
        """Load our modules from another build dir from the next start() on (while stopped):
        lets a benchmark compare two builds on one instance."""
        assert self.process is None, "use_build() needs a stopped instance"
        problem = plugin_problem(build_dir)
        if problem:
            raise RuntimeError(problem)
        self.build_dir = build_dir
        self._link_our_modules()

    def home(self, user):
        return os.path.join(self.root, "home", user)

    def address(self, user, detail=None):
        return f"{user}+{detail}@{DOMAIN}" if detail else f"{user}@{DOMAIN}"

    def _config_text(self):
        return self._config_text_24() if DOVECOT_24 else self._config_text_23()

    def _poller_service(self, service_vsz):
        if self.poller:
            return shipped_poller_service(poller_executable(self.build_dir), service_vsz)
        return disabled_poller_service(self.build_dir) if self.plugin else ""

    def _config_text_24(self):
        """The instance's config in Dovecot 2.4 syntax: the same instance as _config_text_23's."""
        shipped = f"!include {SHIPPED_CONFIG}\n" if self.plugin else ""
        plugins = "mail_plugins {\n  archiver = yes\n}\n" if self.plugin else ""
        sieve_plugins = "  mail_plugins {\n    sieve = yes\n  }\n" if self.sieve else ""
        # Top-level keys: our settings module declares them (without it none is accepted).
        archiver_settings = ("".join(f"{key} = {value}\n" for key, value in self.settings.items()
                                     if value is not None)
                             if self._knows_archiver_settings() else "")
        sieve_settings = ("sieve_script personal {\n  path = ~/.dovecot.sieve\n}\n"
                          if self.sieve else "")
        # ASan reserves terabytes of address space: no vsz_limit can hold it (2.4 refuses 0).
        sanitizer = (f"import_environment {{\n  LD_PRELOAD = {self.asan_runtime}\n"
                     f"  ASAN_OPTIONS = {ASAN_OPTIONS}\n}}\ndefault_vsz_limit = unlimited\n"
                     if self.asan_runtime else "")
        service_vsz = "  vsz_limit = unlimited\n" if self.asan_runtime else ""
        ssl_settings = (f"ssl = yes\nssl_server_cert_file = {self.tls[0]}\n"
                        f"ssl_server_key_file = {self.tls[1]}"
                        if self.tls else "ssl = no")
        debug_config = os.environ.get("ARCHIVER_IT_EXTRA_CONFIG", "")
        return f"""# Generated by tests/integration/dovecot_instance.py: a throwaway instance.
dovecot_config_version = {self.config_version}
dovecot_storage_version = {DOVECOT_STORAGE_VERSION}
instance_name = {self.name}
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.log_path}
protocols = imap lmtp
listen = 127.0.0.1
{ssl_settings}
auth_allow_cleartext = yes
auth_mechanisms = plain login
auth_username_format = %{{user | username | lower}}
default_internal_user = dovecot
default_login_user = dovenull
hostname = mx.{DOMAIN}
postmaster_address = postmaster@{DOMAIN}
mail_driver = maildir
mail_path = ~/Maildir
mail_plugin_dir = {self.mail_module_dir}
{shipped}{sanitizer}{plugins}lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes

passdb passwd-file {{
  driver = passwd-file
  passwd_file_path = {self.root}/passwd
}}
userdb passwd-file {{
  driver = passwd-file
  passwd_file_path = {self.root}/passwd
}}
{INBOX_NAMESPACE}service imap {{
{service_vsz}}}
service imap-login {{
  inet_listener imap {{
    listen = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = {self.imaps_port or 0}
  }}
}}
service lmtp {{
{service_vsz}  inet_listener lmtp {{
    listen = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
protocol lmtp {{
{sieve_plugins}}}
protocol lda {{
{sieve_plugins}}}
{sieve_settings}{archiver_settings}{self._poller_service(service_vsz)}
{self.extra_config}
{debug_config}
"""

    def _config_text_23(self):
        plugins = "$mail_plugins archiver" if self.plugin else "$mail_plugins"
        sieve_plugins = " sieve" if self.sieve else ""
        plugin_settings = "\n".join(f"  {key} = {value}" for key, value in self.settings.items()
                                    if value is not None)
        sieve_settings = "  sieve = ~/.dovecot.sieve\n" if self.sieve else ""
        shipped = f"!include {SHIPPED_CONFIG}" if self.plugin else ""
        # ASan reserves terabytes of address space: no vsz_limit can hold it.
        sanitizer = (f"import_environment = $import_environment LD_PRELOAD={self.asan_runtime} "
                     f"ASAN_OPTIONS={ASAN_OPTIONS}\ndefault_vsz_limit = 0\n"
                     if self.asan_runtime else "")
        service_vsz = "  vsz_limit = 0\n" if self.asan_runtime else ""
        ssl_settings = (f"ssl = yes\nssl_cert = <{self.tls[0]}\nssl_key = <{self.tls[1]}"
                        if self.tls else "ssl = no")
        poller_service = self._poller_service(service_vsz)
        # A debugging aid, e.g. ARCHIVER_IT_EXTRA_CONFIG='mail_debug = yes'.
        debug_config = os.environ.get("ARCHIVER_IT_EXTRA_CONFIG", "")
        return f"""# Generated by tests/integration/dovecot_instance.py: a throwaway instance.
instance_name = {self.name}
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.log_path}
protocols = imap lmtp
listen = 127.0.0.1
{ssl_settings}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
default_internal_user = dovecot
default_login_user = dovenull
hostname = mx.{DOMAIN}
postmaster_address = postmaster@{DOMAIN}
mail_location = maildir:~/Maildir
mail_plugin_dir = {self.mail_module_dir}
{shipped}
{sanitizer}mail_plugins = {plugins}
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes

passdb {{
  driver = passwd-file
  args = {self.root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {self.root}/passwd
}}
{INBOX_NAMESPACE}service imap {{
{service_vsz}}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = {self.imaps_port or 0}
  }}
}}
service lmtp {{
{service_vsz}  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
protocol lmtp {{
  mail_plugins = $mail_plugins{sieve_plugins}
}}
protocol lda {{
  mail_plugins = $mail_plugins{sieve_plugins}
}}
plugin {{
{plugin_settings}
{sieve_settings}}}
{poller_service}
{self.extra_config}
{debug_config}
"""

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def start(self):
        """Write the config, start Dovecot and wait until LMTP greets. Raises with the log."""
        for attempt in range(3):
            self._pick_ports()
            self.write_config()
            stderr_path = os.path.join(self.root, "dovecot.stderr")
            # With the poller, the doveadm it runs must find our doveadm module; on 2.4 the
            # config process must find our settings module. self.process stays the master.
            command = self.in_namespace([DOVECOT, "-F", "-c", self.config_path],
                                        doveadm_modules=self.poller)
            # On 2.4 the master's config parser loads our settings module: with the asan
            # preset that needs the sanitizer runtime preloaded (self.env) like doveadm does.
            with open(stderr_path, "ab") as err:
                self.process = subprocess.Popen(command,
                                                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                                preexec_fn=_terminate_with_parent,
                                                env=self.env if DOVECOT_24 else None)
            if self._wait_for_lmtp():
                return self
            self.stop()
            if "Address already in use" not in self.log_tail(4000) + _read(stderr_path):
                break
        raise RuntimeError(f"Dovecot did not start (config {self.config_path}):\n"
                           + _read(stderr_path) + self.log_tail())

    def _pick_ports(self):
        self.lmtp_port, self.imap_port, imaps_port = free_ports(3)
        if self.tls:
            self.imaps_port = imaps_port

    def write_config(self):
        """Write dovecot.conf as start() does (with the ports chosen last, or new ones)."""
        if self.lmtp_port is None:
            self._pick_ports()
        with open(self.config_path, "w") as f:
            f.write(self._config_text())

    def _wait_for_lmtp(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.lmtp_port), timeout=2) as s:
                    if s.recv(512).startswith(b"220"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self):
        """Stop Dovecot and wait until every process of this instance is gone."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self._wait_for_children()

    def _wait_for_children(self):
        """Dovecot's service processes outlive the master briefly; their title is
        "dovecot-INSTANCE_NAME/SERVICE", and our instance name is unique to this instance."""
        deadline = time.monotonic() + 10
        while True:
            pids = self._child_pids()
            if not pids:
                return
            if time.monotonic() > deadline:
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + 5
            time.sleep(0.05)

    def _child_pids(self):
        pids = []
        prefix = f"dovecot-{self.name}/".encode()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        if f.read().startswith(prefix):
                            pids.append(int(entry))
                except OSError:
                    pass
        return pids

    def process_ids(self):
        """The pids of this running instance: its master and every service process."""
        return ([self.process.pid] if self.process is not None else []) + self._child_pids()

    def restart(self, **changes):
        """Stop, apply configure(**changes), start again."""
        self.stop()
        self.configure(**changes)
        return self.start()

    def cleanup(self):
        """Stop Dovecot and remove the temp dir (kept when keep=True or $ARCHIVER_KEEP_TMP)."""
        self.stop()
        _live_instances.discard(self)
        if not self.keep and not os.environ.get("ARCHIVER_KEEP_TMP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def reset_mail(self, trash=None):
        """Empty every home and the archive (only while stopped: LMDB is held open by workers).
        With `trash` (a dir on the same filesystem) they are moved there instead of deleted:
        ext4 then does not have to skip the thousands of just-deleted inodes on each new file,
        which would slow the next run down by an amount that varies from run to run."""
        assert self.process is None, "reset_mail() needs a stopped instance"
        dirs = [self.home(user) for user in self.users] + [self.archive_dir]
        if trash is not None:
            target = tempfile.mkdtemp(dir=trash)
            for number, path in enumerate(dirs):
                os.rename(path, os.path.join(target, str(number)))
        else:
            for path in dirs:
                shutil.rmtree(path)
        for path in dirs:
            self._make_mail_dir(path)

    # --- logs --------------------------------------------------------------------------------

    def log_text(self):
        return _read(self.log_path)

    def log_tail(self, limit=6000):
        text = self.log_text()
        return f"\n--- {self.log_path} (last {limit} chars) ---\n{text[-limit:]}"

    # --- delivery ----------------------------------------------------------------------------

    def lmtp(self):
        return LmtpClient("127.0.0.1", self.lmtp_port)

    def deliver(self, mail_from, rcpts, message, **kwargs):
        """One LMTP transaction on a fresh connection; see LmtpClient.send."""
        with self.lmtp() as client:
            return client.send(mail_from, rcpts, message, **kwargs)

    def lda(self, user, message, sender=None, rcpt=None, mailbox=None, timeout=120,
            stderr_rejection=False):
        """Run dovecot-lda for `user` with `message` on stdin; returns the CompletedProcess.
        stderr_rejection: -e (a rejection is written to stderr, exit 77, instead of mailed)."""
        args = [DOVECOT_LDA, "-c", self.config_path, "-d", user]
        if stderr_rejection:
            args.append("-e")
        if sender is not None:
            args += ["-f", sender]
        if rcpt is not None:
            args += ["-a", rcpt]
        if mailbox is not None:
            args += ["-m", mailbox]
        return subprocess.run(self.in_namespace(args, doveadm_modules=False), input=message,
                              capture_output=True, timeout=timeout, env=self.env)

    def set_sieve_script(self, user, script):
        path = os.path.join(self.home(user), ".dovecot.sieve")
        with open(path, "w") as f:
            f.write(script)
        os.chown(path, MAIL_UID, MAIL_GID)

    def maildir_messages(self, user, mailbox="INBOX"):
        """Contents (bytes) of the messages in a user's Maildir folder, in file-name order."""
        base = os.path.join(self.home(user), "Maildir")
        if mailbox != "INBOX":
            base = os.path.join(base, "." + mailbox.replace("/", "."))
        messages = []
        for sub in ("new", "cur"):
            folder = os.path.join(base, sub)
            if os.path.isdir(folder):
                for name in sorted(os.listdir(folder)):
                    messages.append(read_bytes(os.path.join(folder, name)))
        return messages

    def imap(self, user):
        connection = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=60)
        connection.login(user, self.password)
        return connection

    # --- doveadm -----------------------------------------------------------------------------

    def doveadm_command(self, *args, fmt=None):
        """The argv of `doveadm -c CONF [-f fmt] ARGS…` with the staged doveadm modules (ours
        included) bind-mounted over Dovecot's doveadm module dir (and on 2.4 the staged settings
        modules over the settings dir) in a private mount namespace: for a Popen of one's own."""
        command = [DOVEADM, "-c", self.config_path]
        if fmt:
            command += ["-f", fmt]
        return self.in_namespace(command + [str(a) for a in args])

    def doveadm(self, *args, fmt=None, input=None, timeout=300):
        """Run doveadm_command(*args, fmt=fmt). Returns the CompletedProcess with stdout/stderr
        as bytes; never raises on a non-zero exit."""
        return subprocess.run(self.doveadm_command(*args, fmt=fmt), input=input,
                              capture_output=True, timeout=timeout, env=self.env)

    def doveconf(self, *args, timeout=60):
        """Run `doveconf -c CONF ARGS…` (on 2.4 with our settings module staged) on the config
        that start() writes (written here first when the instance has not started yet).
        Returns the CompletedProcess with text stdout/stderr."""
        if self.process is None:
            self.write_config()
        return subprocess.run(self.in_namespace([DOVECONF, "-c", self.config_path, *args],
                                                doveadm_modules=False),
                              capture_output=True, text=True, timeout=timeout, env=self.env)

    def doveadm_json(self, *args, **kwargs):
        """Run a doveadm command with `-f json`, require exit 0 and return the parsed rows."""
        result = self.doveadm(*args, fmt="json", **kwargs)
        if result.returncode != 0:
            raise DoveadmError(args, result)
        text = result.stdout.decode()
        return json.loads(text) if text.strip() else []


class DoveadmError(Exception):
    def __init__(self, args, result):
        self.result = result
        super().__init__(f"doveadm {' '.join(map(str, args))} exited {result.returncode}: "
                         f"{result.stderr.decode(errors='replace').strip()}")


def _terminate_with_parent():
    """In the child before exec: get SIGTERM when our process dies, even by SIGKILL (a ctest
    timeout), so no Dovecot outlives the test that started it."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()
