"""Real messages from ../shared/corpus/mail (a fixed sample covering LF, CRLF, CR-only and mixed
line ends and leading mbox From lines) over LMTP and dovecot-lda: each one fetched byte-exact.
Skipped, not passed, when the corpus is absent."""

import os
import random
import unittest

import dovecot_instance as di
from archiver_test import SENDER, ArchiverTestCase, sha256

SAMPLE_SIZE = 50
LDA_SAMPLE_SIZE = 12


def line_ends(raw):
    crlf = raw.count(b"\r\n")
    kinds = set()
    if crlf:
        kinds.add("crlf")
    if raw.count(b"\r") > crlf:
        kinds.add("cr")
    if raw.count(b"\n") > crlf:
        kinds.add("lf")
    return kinds


def corpus_sample():
    """A deterministic sample of (relative path, bytes): every line-end kind and mbox From lines
    represented, the rest drawn at random with a fixed seed."""
    messages = di.corpus_messages()
    rng = random.Random(20240601)
    groups = {"from_line": [], "cr": [], "crlf": [], "mixed": [], "lf": []}
    for path, raw in messages.items():
        kinds = line_ends(raw)
        if raw.startswith(b"From "):
            groups["from_line"].append(path)
        elif len(kinds) > 1:
            groups["mixed"].append(path)
        else:
            groups[next(iter(kinds), "lf")].append(path)
    chosen = []
    for group, count in (("from_line", 6), ("cr", 6), ("crlf", 8), ("mixed", 6)):
        chosen += rng.sample(groups[group], min(count, len(groups[group])))
    rest = [p for p in messages if p not in chosen]
    chosen += rng.sample(rest, SAMPLE_SIZE - len(chosen))
    return [(path, messages[path]) for path in chosen]


def lda_message(raw):
    """What dovecot-lda takes as the message: stdin with a leading mbox From line removed."""
    if raw.startswith(b"From "):
        return raw[raw.index(b"\n") + 1:]
    return raw


@unittest.skipUnless(os.path.isdir(di.MAIL_CORPUS), f"mail corpus not found at {di.MAIL_CORPUS}")
class CorpusTest(ArchiverTestCase):

    instance_options = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sample = corpus_sample()

    def assert_ids(self, rows, expected):
        """The listed ids are the SHA-256 of the messages sent; names the files that differ."""
        listed = {row["id"]: row for row in rows}
        missing = [path for message_id, (path, _) in expected.items() if message_id not in listed]
        unexpected = [(row["id"], row["subject"], row["size"])
                      for message_id, row in listed.items() if message_id not in expected]
        self.assertEqual((missing, unexpected), ([], []),
                         "messages archived under an id other than the SHA-256 of what was sent")
        self.assertEqual(len(rows), len(expected))

    def test_lmtp_corpus_sample_is_byte_exact(self):
        expected = {}
        with self.instance.lmtp() as client:
            for path, raw in self.sample:
                wire = di.to_wire(raw)
                result = client.send(SENDER, ["alice@example.org"], wire, body="8BITMIME")
                self.assertTrue(result.all_delivered(), f"{path}: {result.data or result.rcpt}")
                expected[sha256(wire)] = (path, wire)
        rows = self.archive_list(self.instance, "--rcpt", "alice@example.org")
        self.assert_ids(rows, expected)
        for message_id, (path, wire) in expected.items():
            with self.subTest(path=path):
                self.assert_fetch_exact(self.instance, wire)
        self.assert_verify_ok(self.instance)

    def test_lda_corpus_sample_is_byte_exact(self):
        # A CR-only file's mbox From line has no LF to end it; LDA's input is ill-defined there.
        candidates = [(path, raw) for path, raw in self.sample
                      if not (raw.startswith(b"From ") and line_ends(raw) == {"cr"})]
        chosen = candidates[:LDA_SAMPLE_SIZE]  # the sample starts with the From-line files
        self.assertTrue(any(raw.startswith(b"From ") for _, raw in chosen))
        expected = {}
        for path, raw in chosen:
            process = self.instance.lda("bob", raw, sender=SENDER, rcpt="bob@example.org")
            self.assertEqual(process.returncode, 0, f"{path}: {process.stderr!r}")
            expected[sha256(lda_message(raw))] = (path, lda_message(raw))
        rows = self.archive_list(self.instance, "--rcpt", "bob@example.org")
        self.assert_ids(rows, expected)
        for message_id, (path, message) in expected.items():
            with self.subTest(path=path):
                self.assert_fetch_exact(self.instance, message)


if __name__ == "__main__":
    unittest.main()
