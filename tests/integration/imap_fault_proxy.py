"""A fault-injecting TCP proxy between imapc and a real remote Dovecot, for the source tests.
It passes every byte through, except that it makes the remote fail to give the body of chosen
UIDs, as a flaky or hostile server does: the untagged FETCH response that carries `BODY[]` of
such a UID is dropped, and the tagged answer of its command becomes `NO [UNAVAILABLE] …`
(mode "no") or stays OK (mode "missing": an answer without the body). The remote server is an
untrusted party, so a proxy in front of a real Dovecot is a fair remote; Dovecot is never
replaced by a mock."""

import re
import socket
import threading

FETCH_COMMAND = re.compile(rb"^(\S+) UID FETCH ([0-9:,*]+) \((.*)\)\r\n$", re.I)
LITERAL_END = re.compile(rb"\{(\d+)\}\r\n$")
UNTAGGED_FETCH = re.compile(rb"^\* \d+ FETCH \(", re.I)
UID_ITEM = re.compile(rb"\bUID (\d+)", re.I)
BODY_ITEM = re.compile(rb"\bBODY\[\] (\{|NIL)", re.I)
REFUSAL = b"NO [UNAVAILABLE] Backend storage temporarily unavailable (injected)"


def uid_in_set(uid, uid_set):
    """Whether `uid` is in an IMAP UID set such as b"1:5,7,9:*"."""
    for part in uid_set.split(b","):
        low, _, high = part.partition(b":")
        low = 2**32 if low == b"*" else int(low)
        high = low if not high else (2**32 if high == b"*" else int(high))
        if min(low, high) <= uid <= max(low, high):
            return True
    return False


class FaultProxy:
    """Listens on 127.0.0.1:`port` (picked free) and forwards each connection to
    127.0.0.1:`upstream_port`. `refuse(uid, connections, mode)` makes every body FETCH of `uid`
    fail in the next `connections` connections (None: in all); a sync makes one connection
    unless the remote drops it, and imapc may ask twice for a body in one. `body_requests[uid]`
    counts the body FETCH commands that named `uid`; `refused` lists each refusal's UID;
    `client_uids` the uid that owns the client's socket, per connection (socket_owner_uid)."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.faults = {}  # uid -> [connections left (None: all), mode]
        self.body_requests = {}
        self.refused = []
        self.client_uids = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def refuse(self, uid, connections=None, mode="no"):
        assert mode in ("no", "missing")
        with self.lock:
            self.faults[uid] = [connections, mode]

    def close(self):
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.close()
                except OSError:
                    pass

    # --- the connections ---------------------------------------------------------------------

    def _accept(self):
        while True:
            try:
                client, address = self.listener.accept()
            except OSError:
                return
            owner = socket_owner_uid(address[1], self.port)
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.sockets += [client, server]
                self.client_uids.append(owner)
                faults = {}  # uid -> mode: this connection's
                for uid, fault in self.faults.items():
                    if fault[0] is None or fault[0] > 0:
                        faults[uid] = fault[1]
                        fault[0] = None if fault[0] is None else fault[0] - 1
            body_fetches = {}  # tag -> UID set, the body FETCHes of this connection in flight
            threading.Thread(target=self._from_client, args=(client, server, body_fetches),
                             daemon=True).start()
            threading.Thread(target=self._from_server,
                             args=(server, client, body_fetches, faults), daemon=True).start()

    def _from_client(self, client, server, body_fetches):
        reader = client.makefile("rb")
        try:
            for line in reader:
                command = FETCH_COMMAND.match(line)
                if command and b"BODY.PEEK[]" in command.group(3).upper():
                    tag, uid_set = command.group(1), command.group(2)
                    with self.lock:
                        body_fetches[tag] = uid_set
                        for uid in self.faults.keys() | self.body_requests.keys():
                            if uid_in_set(uid, uid_set):
                                self.body_requests[uid] = self.body_requests.get(uid, 0) + 1
                server.sendall(line)
        except OSError:
            pass
        finally:
            _shut(server)

    def _from_server(self, server, client, body_fetches, faults):
        reader = server.makefile("rb")
        dropped = {}  # UID -> mode, dropped from a body FETCH whose tagged answer is pending
        try:
            while True:
                response, text = _read_response(reader)
                if not response:
                    return
                if UNTAGGED_FETCH.match(text) and BODY_ITEM.search(text):
                    uid = UID_ITEM.search(text)
                    mode = uid and faults.get(int(uid.group(1)))
                    if mode:
                        with self.lock:
                            self.refused.append(int(uid.group(1)))
                        dropped[int(uid.group(1))] = mode
                        continue
                tag = text.split(b" ", 1)[0]
                if tag != b"*" and tag != b"+":
                    with self.lock:
                        uid_set = body_fetches.pop(tag, None)
                    mine = [uid for uid in dropped if uid_set and uid_in_set(uid, uid_set)]
                    if mine and any(dropped[uid] == "no" for uid in mine):
                        response = tag + b" " + REFUSAL + b"\r\n"
                    for uid in mine:
                        del dropped[uid]
                client.sendall(response)
        except OSError:
            pass
        finally:
            _shut(client)


def socket_owner_uid(local_port, remote_port):
    """The uid that owns the loopback TCP socket from `local_port` to `remote_port`: the
    effective uid of the process that made it, as /proc/net/tcp's uid column shows it (the
    peer of a connection the test accepted). None when no such socket is listed."""
    with open("/proc/net/tcp") as table:
        next(table)  # the header
        for line in table:
            fields = line.split()
            local, remote = fields[1].rsplit(":", 1), fields[2].rsplit(":", 1)
            if int(local[1], 16) == local_port and int(remote[1], 16) == remote_port:
                return int(fields[7])
    return None


def _read_response(reader):
    """One whole response (its lines and literals) and its text without the literals."""
    response, text = b"", b""
    while True:
        line = reader.readline()
        if not line:
            return b"", b""
        response += line
        text += line
        literal = LITERAL_END.search(line)
        if not literal:
            return response, text
        response += reader.read(int(literal.group(1)))


def _shut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
