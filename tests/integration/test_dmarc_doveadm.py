"""`doveadm dmarc …` as an administrator meets it: importing report files of every kind (told by
content), duplicates, list filters, show, a summary checked against hand-computed numbers, CSV and
JSON exports read back, the error ledger, failure reports, reprocessing archived report mails after
a fix, and the shared report corpus against totals Python computes on its own."""

import csv
import gzip
import io
import json
import os
import tempfile
import unittest
import zlib

import dovecot_instance as di
from archiver_test import ISO_UTC, ArchiverTestCase, make_message, sha256
from dmarc_doveadm_fixtures import (AGGREGATE_CORPUS, ARF_MAIL, DAY, MAY_1, REPORT_A, REPORT_B,
                                    REPORT_C, REPORT_D, REPORT_E, REPORT_RCPT, REPORTS,
                                    aggregate_xml, iso, python_reports, record, report_mail,
                                    xml_of, zip_bytes)


class DmarcDoveadmTestCase(ArchiverTestCase):

    def dmarc(self, instance, command, *args, fmt="json", expect=0):
        """`doveadm -f FMT dmarc COMMAND ARGS…` exiting `expect`: the parsed rows when FMT is
        json, else the CompletedProcess."""
        if fmt == "json" and expect == 0:
            return self.dmarc_rows(instance, command, *args)
        result = instance.doveadm("dmarc", command, *args, fmt=fmt)
        self.assertEqual(result.returncode, expect,
                         f"doveadm dmarc {command} {' '.join(map(str, args))}: "
                         f"{result.stderr.decode(errors='replace')}")
        if fmt == "json":
            return json.loads(result.stdout) if result.stdout.strip() else []
        return result

    def write(self, directory, name, data):
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


class ImportAndQueryTest(DmarcDoveadmTestCase):
    """One archive, filled by one import of every kind of file, shared by the tests."""

    instance_options = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.files_dir = tempfile.mkdtemp(prefix="dmarc-files-", dir=cls.instance.root)
        files = {
            "a.xml": xml_of(REPORT_A),
            "b.xml.gz": gzip.compress(xml_of(REPORT_B)),
            "c.zip": zip_bytes("c.xml", xml_of(REPORT_C)),
            "d.bin": zlib.compress(xml_of(REPORT_D)),
            "e.eml": report_mail("Report domain: other.example", gzip.compress(xml_of(REPORT_E)),
                                 "e.xml.gz"),
            "arf.eml": ARF_MAIL,
            "doctype.xml": b'<?xml version="1.0"?>\n<!DOCTYPE feedback [<!ENTITY x "y">]>\n'
                           b"<feedback>&x;</feedback>\n",
            "junk.bin": bytes(range(1, 200)) * 3,
        }
        cls.paths = {}
        for name, data in files.items():
            cls.paths[name] = os.path.join(cls.files_dir, name)
            with open(cls.paths[name], "wb") as f:
                f.write(data)
        cls.paths["missing.xml"] = os.path.join(cls.files_dir, "missing.xml")
        cls.import_result = cls.instance.doveadm("dmarc", "import", *cls.paths.values(), fmt="json")

    def rows_by_file(self):
        return {os.path.basename(r["file"]): r for r in json.loads(self.import_result.stdout)}

    def reports_by_key(self, *filters):
        return {r["report_id"]: r for r in self.dmarc(self.instance, "list", *filters)}

    def test_import_rows_and_exit_code(self):
        self.assertEqual(self.import_result.returncode, di.EX_DATAERR,
                         self.import_result.stderr.decode())
        rows = self.rows_by_file()
        expected_records = {"a.xml": 3, "b.xml.gz": 2, "c.zip": 1, "d.bin": 2, "e.eml": 1}
        for name, records in expected_records.items():
            with self.subTest(file=name):
                self.assertEqual(rows[name]["result"], "ok", rows[name])
                self.assertEqual(rows[name]["reports"], "1")
                self.assertEqual(rows[name]["records"], str(records))
                self.assertEqual(rows[name]["reason"], "")
        self.assertEqual((rows["arf.eml"]["result"], rows["arf.eml"]["reports"]), ("ok", "1"))
        for name in ("doctype.xml", "junk.bin"):
            with self.subTest(file=name):
                self.assertEqual(rows[name]["result"], "error")
                self.assertEqual(rows[name]["reports"], "0")
                self.assertTrue(rows[name]["reason"])
        self.assertIn("DOCTYPE", rows["doctype.xml"]["reason"])
        self.assertEqual(rows["missing.xml"]["result"], "error")
        self.assertRegex(rows["missing.xml"]["reason"], r"^cannot open: No such file")
        stderr = self.import_result.stderr.decode()
        self.assertIn("3 of 9 files", stderr)

    def test_archive_created_by_import_stays_the_mail_users(self):
        # doveadm runs as root; the archive it created must still open in Dovecot's processes.
        for name in ("data.mdb", "lock.mdb"):
            self.assertEqual(os.stat(os.path.join(self.instance.archive_dir, name)).st_uid,
                             di.MAIL_UID, name)
        message = make_message("After the import", "Still archived.\r\n")
        self.deliver_ok(self.instance, ["alice@example.org"], message)
        self.assert_fetch_exact(self.instance, message)

    def test_reimport_is_duplicate_and_exits_0(self):
        good = [self.paths[n] for n in ("a.xml", "b.xml.gz", "c.zip", "d.bin", "e.eml", "arf.eml")]
        rows = self.dmarc(self.instance, "import", *good)
        self.assertEqual([r["result"] for r in rows], ["duplicate"] * len(good))
        self.assertEqual(len(self.dmarc(self.instance, "list")), len(REPORTS))

    def test_list_fields_and_filters(self):
        reports = self.reports_by_key()
        self.assertEqual(sorted(reports), sorted(r["report_id"] for r in REPORTS))
        for report in REPORTS:
            row = reports[report["report_id"]]
            with self.subTest(report=report["report_id"]):
                self.assertEqual(row["org"], report["org"])
                self.assertEqual(row["domain"], report["domain"])
                self.assertEqual(row["begin"], iso(report["begin"]))
                self.assertEqual(row["end"], iso(report["begin"] + DAY - 1))
                self.assertRegex(row["begin"], ISO_UTC)
                self.assertEqual(row["records"], str(len(report["records"])))
                messages = sum(r["count"] for r in report["records"])
                passed = sum(r["count"] for r in report["records"]
                             if "pass" in (r["dkim"], r["spf"]))
                self.assertEqual(row["messages"], str(messages))
                self.assertEqual(row["pass"], str(passed))
                self.assertEqual(row["fail"], str(messages - passed))
        self.assertEqual(sorted(self.reports_by_key("--domain", "summary.example")),
                         ["a-2024-05-01", "b-2024-05-02"])
        self.assertEqual(sorted(self.reports_by_key("--domain", "SUMMARY.example")),
                         ["a-2024-05-01", "b-2024-05-02"])
        self.assertEqual(sorted(self.reports_by_key("--org", "zip")), ["c-1"])
        self.assertEqual(sorted(self.reports_by_key("--org", "Z")), ["c-1", "d-1"])
        self.assertEqual(sorted(self.reports_by_key("--since", iso(MAY_1 + 3 * DAY))),
                         ["d-1", "e-1"])
        self.assertEqual(sorted(self.reports_by_key("--until", "2024-05-02")), ["a-2024-05-01"])
        self.assertEqual(sorted(self.reports_by_key("--domain", "other.example", "--since",
                                                    "2024-05-04", "--until", "2024-05-05")),
                         ["d-1"])
        self.assertEqual(len(self.dmarc(self.instance, "list", "--limit", "2")), 2)
        self.assertEqual(self.dmarc(self.instance, "list", "--domain", "nowhere.example"), [])

    def test_list_table_and_flow(self):
        table = self.dmarc(self.instance, "list", fmt="table").stdout.decode().splitlines()
        self.assertEqual(table[0].split()[:6], ["id", "org", "report_id", "domain", "begin", "end"])
        self.assertEqual(len(table), 1 + len(REPORTS))
        flow = self.dmarc(self.instance, "list", "--domain", "other.example", fmt="flow")
        self.assertRegex(flow.stdout.decode(), r"org=Zlib Org report_id=d-1 domain=other.example")

    def test_show_every_field(self):
        report_id = self.reports_by_key()["a-2024-05-01"]["id"]
        rows = self.dmarc(self.instance, "show", report_id)
        fields = {(r["section"], r["field"]): r["value"] for r in rows}
        self.assertEqual(fields[("report", "id")], report_id)
        self.assertEqual(fields[("report", "org")], "Org One")
        self.assertEqual(fields[("report", "report_id")], "a-2024-05-01")
        self.assertEqual(fields[("report", "recovered")], "no")
        self.assertEqual(fields[("report", "begin")], iso(MAY_1))
        self.assertEqual(fields[("policy", "domain")], "summary.example")
        self.assertEqual(fields[("policy", "p")], "none")
        self.assertEqual(fields[("policy", "pct")], "100")
        self.assertEqual(fields[("origin", "kind")], "file")
        self.assertEqual(fields[("origin", "detail")], self.paths["a.xml"])
        self.assertEqual(fields[("origin", "mail")], "")
        for index, expected in enumerate(REPORT_A["records"], 1):
            section = f"record.{index}"
            with self.subTest(record=index):
                self.assertEqual(fields[(section, "source_ip")], expected["ip"])
                self.assertEqual(fields[(section, "count")], str(expected["count"]))
                self.assertEqual(fields[(section, "disposition")], expected["disposition"])
                self.assertEqual(fields[(section, "dkim")], expected["dkim"])
                self.assertEqual(fields[(section, "spf")], expected["spf"])
                self.assertEqual(fields[(section, "header_from")], expected["header_from"])
        self.assertEqual(fields[("record.1.reason.1", "type")], "forwarded")
        self.assertEqual(fields[("record.1.reason.1", "comment")], 'list, "quoted"')
        self.assertEqual([fields[("record.1.dkim.2", f)] for f in ("domain", "selector", "result")],
                         ["esp.example", "k2", "fail"])
        self.assertEqual([fields[("record.1.spf.1", f)] for f in ("domain", "scope", "result")],
                         ["summary.example", "mfrom", "pass"])
        self.assertNotIn(("record.4", "source_ip"), fields)
        # The table reads as three columns.
        table = self.dmarc(self.instance, "show", report_id, fmt="table").stdout.decode()
        self.assertRegex(table, r"(?m)^record\.2\s+source_ip\s+192\.0\.2\.2\s*$")

    def test_show_errors(self):
        self.dmarc(self.instance, "show", "999999", fmt=None, expect=di.EX_NOINPUT)
        for bad in ("abc", "0", "-3", "1x"):
            with self.subTest(id=bad):
                result = self.dmarc(self.instance, "show", bad, fmt=None, expect=di.EX_USAGE)
                self.assertEqual(result.stdout, b"")

    def test_summary_matches_hand_computation(self):
        rows = self.dmarc(self.instance, "summary", "--domain", "summary.example")
        records = [(REPORT_A["org"], r) for r in REPORT_A["records"]] + \
                  [(REPORT_B["org"], r) for r in REPORT_B["records"]]

        def expected(selected):
            messages = sum(r["count"] for _, r in selected)

            def pct(n):
                return f"{100 * n / messages:.1f}"
            return {
                "reports": str(len({org for org, _ in selected})),
                "messages": str(messages),
                "dmarc_pass": str(sum(r["count"] for _, r in selected
                                      if "pass" in (r["dkim"], r["spf"]))),
                "dmarc_pass_pct": pct(sum(r["count"] for _, r in selected
                                          if "pass" in (r["dkim"], r["spf"]))),
                "dkim_aligned_pct": pct(sum(r["count"] for _, r in selected if r["dkim"] == "pass")),
                "spf_aligned_pct": pct(sum(r["count"] for _, r in selected if r["spf"] == "pass")),
                **{d: str(sum(r["count"] for _, r in selected if r["disposition"] == d))
                   for d in ("none", "quarantine", "reject")},
            }

        by_scope = {(r["scope"], r["key"]): {k: v for k, v in r.items() if k not in
                                             ("scope", "key")} for r in rows}
        self.assertEqual(by_scope[("total", "summary.example")], expected(records))
        # The hand-computed totals, written out once: 20 messages, 13 pass.
        self.assertEqual(by_scope[("total", "summary.example")]["dmarc_pass_pct"], "65.0")
        self.assertEqual(by_scope[("total", "summary.example")]["dkim_aligned_pct"], "50.0")
        self.assertEqual(by_scope[("total", "summary.example")]["spf_aligned_pct"], "45.0")
        for ip in {r["ip"] for _, r in records}:
            with self.subTest(source_ip=ip):
                self.assertEqual(by_scope[("source_ip", ip)],
                                 expected([x for x in records if x[1]["ip"] == ip]))
        for org in ("Org One", "Org Two"):
            with self.subTest(org=org):
                self.assertEqual(by_scope[("org", org)],
                                 expected([x for x in records if x[0] == org]))
        self.assertEqual(len(rows), 1 + 4 + 2)
        ips = [r["key"] for r in rows if r["scope"] == "source_ip"]
        self.assertEqual(ips[0], "192.0.2.1", "most messages first")
        # Within a period: only report B.
        rows = self.dmarc(self.instance, "summary", "--domain", "summary.example",
                          "--since", "2024-05-02")
        total = next(r for r in rows if r["scope"] == "total")
        self.assertEqual((total["messages"], total["dmarc_pass_pct"]), ("10", "40.0"))

    def test_summary_needs_domain(self):
        result = self.dmarc(self.instance, "summary", fmt=None, expect=di.EX_USAGE)
        self.assertIn("--domain", result.stderr.decode())

    def test_bad_usage_exits_64(self):
        for args in (("list", "--since", "soon"), ("list", "--until", "2024-02-30"),
                     ("list", "--limit", "-1"), ("export",), ("export", "--format", "xml"),
                     ("import",), ("import", "--max-size", "lots", self.paths["a.xml"])):
            with self.subTest(args=args):
                result = self.instance.doveadm("dmarc", *args)
                self.assertEqual(result.returncode, di.EX_USAGE, result)
                self.assertTrue(result.stderr.strip())

    def test_export_csv_reads_back(self):
        path = os.path.join(self.files_dir, "export.csv")
        summary = self.dmarc(self.instance, "export", "--format", "csv", "--output", path)
        self.assertEqual(summary, [{"format": "csv", "output": path, "reports": str(len(REPORTS)),
                                    "records": str(sum(len(r["records"]) for r in REPORTS))}])
        with open(path, newline="", encoding="utf-8") as f:
            raw = f.read()
        self.assertIn("\r\n", raw)
        rows = list(csv.DictReader(io.StringIO(raw, newline="")))
        self.assertEqual(len(rows), sum(len(r["records"]) for r in REPORTS))
        first = next(r for r in rows if r["source_ip"] == "192.0.2.1"
                     and r["report_id"] == "a-2024-05-01")
        self.assertEqual(first["org"], "Org One")
        self.assertEqual(first["domain"], "summary.example")
        self.assertEqual(first["begin"], iso(MAY_1))
        self.assertEqual(first["count"], "6")
        self.assertEqual(first["reasons"], 'forwarded: list, "quoted"')
        self.assertEqual(first["dkim_auth"], "summary.example/s1=pass, esp.example/k2=fail")
        self.assertEqual(first["spf_auth"], "summary.example/mfrom=pass")
        # Never overwritten.
        result = self.dmarc(self.instance, "export", "--format", "csv", "--output", path,
                            fmt=None, expect=73)
        self.assertIn(path, result.stderr.decode())

    def test_export_json_lines_to_stdout_with_filters(self):
        result = self.dmarc(self.instance, "export", "--format", "json", "--domain",
                            "summary.example", fmt=None)
        lines = result.stdout.decode().splitlines()
        records = [json.loads(line) for line in lines]
        self.assertEqual(len(records), 5)
        self.assertEqual(sum(r["count"] for r in records), 20)
        first = next(r for r in records if r["report_id"] == "a-2024-05-01"
                     and r["source_ip"] == "192.0.2.1")
        self.assertEqual(first["reasons"], [{"type": "forwarded", "comment": 'list, "quoted"'}])
        self.assertEqual([(a["domain"], a["selector"], a["result"]) for a in first["dkim_auth"]],
                         [("summary.example", "s1", "pass"), ("esp.example", "k2", "fail")])
        self.assertEqual(first["spf_auth"][0]["scope"], "mfrom")
        self.assertEqual({r["end"] for r in records},
                         {iso(MAY_1 + DAY - 1), iso(MAY_1 + 2 * DAY - 1)})
        # doveadm's own formatter would add its output after the records: refused.
        self.assertEqual(self.dmarc(self.instance, "export", "--format", "json", fmt="json",
                                    expect=di.EX_USAGE), [])

    def test_errors_list_the_bad_files(self):
        rows = self.dmarc(self.instance, "errors")
        by_source = {r["source"]: r for r in rows}
        for name, kind in (("doctype.xml", "aggregate"), ("junk.bin", "payload")):
            with self.subTest(file=name):
                row = by_source[self.paths[name]]
                self.assertEqual(row["kind"], kind)
                self.assertEqual(row["mail"], "")
                self.assertRegex(row["time"], ISO_UTC)
                self.assertTrue(row["reason"])
        self.assertNotIn(self.paths["a.xml"], by_source)
        self.assertNotIn(self.paths["missing.xml"], by_source, "no report to reprocess")

    def test_failures_and_failure_show(self):
        rows = self.dmarc(self.instance, "failures")
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        self.assertEqual(row["domain"], "summary.example")
        self.assertEqual(row["source_ip"], "203.0.113.9")
        self.assertEqual(row["feedback_type"], "auth-failure")
        self.assertEqual(row["auth_failure"], "dmarc")
        self.assertEqual(row["delivery_result"], "reject")
        self.assertEqual(row["original_subject"], "Your invoice")
        self.assertIn("spoof@summary.example", row["original_from"])
        self.assertEqual(row["is_dmarc"], "yes")
        self.assertEqual(row["arrival"], "2024-05-02T09:59:00Z")
        self.assertEqual(self.dmarc(self.instance, "failures", "--domain", "other.example"), [])
        fields = {(r["section"], r["field"]): r["value"]
                  for r in self.dmarc(self.instance, "failure", "show", row["id"])}
        self.assertEqual(fields[("failure", "original_mail_from")], "spoof@summary.example")
        self.assertEqual(fields[("original", "message_id")], "<spoofed-1@summary.example>")
        self.assertEqual(fields[("field", "User-Agent")], "Receiver/1.0")
        self.assertEqual(fields[("origin", "detail")], self.paths["arf.eml"])

    def test_usage_lists_the_commands(self):
        result = self.instance.doveadm("dmarc")
        self.assertNotEqual(result.returncode, 0)
        usage = result.stderr.decode()
        self.assertIn("dmarc <command>", usage)
        for command in ("import", "list", "show", "summary", "failures", "failure", "errors",
                        "reprocess", "export", "rollup-rebuild"):
            self.assertRegex(usage, rf"(?m)^\s+{command}\s")


class MaxSizeTest(DmarcDoveadmTestCase):

    def test_max_size_caps_and_raises(self):
        instance = self.start_instance(settings={"archiver_dmarc_max_size": "1k"})
        big = aggregate_xml("Big Org", "big-1", "big.example", MAY_1,
                            [record(f"192.0.2.{n}", n, "none", "pass", "pass") for n in range(1, 40)])
        self.assertGreater(len(big), 4096)
        path = self.write(instance.root, "big.xml.gz", gzip.compress(big))
        rows = self.dmarc(instance, "import", path, expect=di.EX_DATAERR)
        self.assertEqual(rows[0]["result"], "error")
        rows = self.dmarc(instance, "import", "--max-size", "1M", path)
        self.assertEqual((rows[0]["result"], rows[0]["records"]), ("ok", "39"))
        # A raw XML file has no such cap unless --max-size sets one.
        raw = self.write(instance.root, "big.xml", big.replace(b"big-1", b"big-2"))
        self.assertEqual(self.dmarc(instance, "import", raw)[0]["result"], "ok")
        raw = self.write(instance.root, "big3.xml", big.replace(b"big-1", b"big-3"))
        rows = self.dmarc(instance, "import", "--max-size", "2k", raw, expect=di.EX_DATAERR)
        self.assertEqual(rows[0]["result"], "error")


class ReprocessTest(DmarcDoveadmTestCase):
    """Report mails delivered over LMTP to the report recipient, processed by the delivery hook,
    then again by `doveadm dmarc reprocess` after a fix."""

    def test_reprocess_after_raising_the_size_cap(self):
        instance = self.start_instance()
        small = report_mail("Report domain: early.example",
                            gzip.compress(aggregate_xml("Early Org", "early-1", "early.example",
                                                        MAY_1, [record("192.0.2.9", 2, "none",
                                                                       "pass", "pass")])),
                            "early.xml.gz")
        # Delivered before DMARC processing was enabled: archived, not processed.
        self.deliver_ok(instance, [REPORT_RCPT], small)
        self.assertEqual(self.dmarc(instance, "list"), [])

        instance.restart(settings={"archiver_dmarc_mailboxes": REPORT_RCPT,
                                   "archiver_dmarc_max_size": "1k"})
        big_xml = aggregate_xml("Late Org", "late-1", "late.example", MAY_1 + DAY,
                                [record(f"192.0.2.{n}", n, "none", "pass", "fail")
                                 for n in range(1, 40)])
        big = report_mail("Report domain: late.example", gzip.compress(big_xml), "late.xml.gz")
        self.deliver_ok(instance, [REPORT_RCPT], big)
        # Another recipient's mail is not a report mail.
        self.deliver_ok(instance, ["alice@example.org"], report_mail(
            "Report domain: alice.example", gzip.compress(xml_of(REPORT_C)), "c.xml.gz"))
        errors = self.dmarc(instance, "errors")
        self.assertEqual([e["mail"] for e in errors], [sha256(big)], errors)
        self.assertEqual(self.dmarc(instance, "list"), [])

        # --unprocessed: the mail delivered before DMARC was enabled, and only that one.
        rows = self.dmarc(instance, "reprocess", "--unprocessed")
        self.assertEqual([(r["mail"], r["result"], r["reports"]) for r in rows],
                         [(sha256(small), "ok", "1")])
        self.assertEqual([r["report_id"] for r in self.dmarc(instance, "list")], ["early-1"])

        # Reprocessing without the fix: the error stays, and the exit code says so.
        rows = self.dmarc(instance, "reprocess", sha256(big)[:12], expect=di.EX_DATAERR)
        self.assertEqual([(r["mail"], r["result"]) for r in rows], [(sha256(big), "error")])
        self.assertEqual(len(self.dmarc(instance, "errors")), 1)

        instance.restart(settings={"archiver_dmarc_mailboxes": REPORT_RCPT,
                                   "archiver_dmarc_max_size": "10M"})
        rows = {r["mail"]: r for r in self.dmarc(instance, "reprocess")}
        self.assertEqual(set(rows), {sha256(small), sha256(big)})
        self.assertEqual((rows[sha256(big)]["result"], rows[sha256(big)]["reports"]), ("ok", "1"))
        self.assertEqual(rows[sha256(big)]["user"], "dave")
        self.assertEqual(rows[sha256(big)]["mailbox"], "INBOX")
        self.assertEqual(rows[sha256(small)]["result"], "duplicate")
        self.assertEqual(self.dmarc(instance, "errors"), [])
        reports = {r["report_id"]: r for r in self.dmarc(instance, "list")}
        self.assertEqual(sorted(reports), ["early-1", "late-1"])
        self.assertEqual(reports["late-1"]["records"], "39")
        fields = {(r["section"], r["field"]): r["value"]
                  for r in self.dmarc(instance, "show", reports["late-1"]["id"])}
        self.assertEqual(fields[("origin", "mail")], sha256(big))
        self.assertEqual(fields[("origin", "kind")], "mail")
        # The archived mail is still there, byte for byte.
        self.assert_fetch_exact(instance, big)

    def test_unknown_mail_id_exits_68(self):
        instance = self.start_instance(settings={"archiver_dmarc_mailboxes": REPORT_RCPT})
        self.dmarc(instance, "reprocess", "0" * 64, fmt=None, expect=di.EX_NOINPUT)


class CorpusTest(DmarcDoveadmTestCase):

    def test_import_the_shared_corpus(self):
        if not os.path.isdir(AGGREGATE_CORPUS):
            self.skipTest(f"no DMARC corpus at {AGGREGATE_CORPUS}")
        paths = sorted(os.path.join(folder, name)
                       for folder, _, names in os.walk(AGGREGATE_CORPUS) for name in names)
        instance = self.start_instance()
        result = instance.doveadm("dmarc", "import", *paths, fmt="json")
        self.assertIn(result.returncode, (0, di.EX_DATAERR), result.stderr.decode())
        rows = {r["file"]: r for r in json.loads(result.stdout)}
        self.assertEqual(sorted(rows), paths, "one row per file")
        self.assertEqual(result.returncode == 0,
                         all(r["result"] != "error" for r in rows.values()))

        expected = {}   # (org, report_id) -> (records, messages), None when files disagree
        readable = 0
        for path in paths:
            reports = python_reports(path)
            if not reports:
                continue
            readable += 1
            with self.subTest(file=os.path.relpath(path, AGGREGATE_CORPUS)):
                self.assertIn(rows[path]["result"], ("ok", "duplicate"), rows[path])
                self.assertEqual(int(rows[path]["reports"]), len(reports), rows[path])
            for org, report_id, records, messages in reports:
                key = (org, report_id)
                if key in expected and expected[key] != (records, messages):
                    expected[key] = None
                else:
                    expected[key] = (records, messages)
        self.assertGreater(readable, 10, "Python read most of the corpus")

        listed = {(r["org"], r["report_id"]): r for r in self.dmarc(instance, "list")}
        total_records = total_messages = 0
        for key, counts in sorted(expected.items()):
            if counts is None:
                continue
            with self.subTest(report=key):
                self.assertIn(key, listed)
                self.assertEqual((int(listed[key]["records"]), int(listed[key]["messages"])),
                                 counts)
            total_records += counts[0]
            total_messages += counts[1]
        known = [listed[k] for k, c in expected.items() if c is not None and k in listed]
        self.assertEqual(sum(int(r["records"]) for r in known), total_records)
        self.assertEqual(sum(int(r["messages"]) for r in known), total_messages)
        # Every file that failed left its reason in the ledger.
        sources = {e["source"] for e in self.dmarc(instance, "errors")}
        for path, row in rows.items():
            if row["result"] == "error":
                with self.subTest(error_file=os.path.relpath(path, AGGREGATE_CORPUS)):
                    self.assertIn(path, sources)


if __name__ == "__main__":
    unittest.main()
