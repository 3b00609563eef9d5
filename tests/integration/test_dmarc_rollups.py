"""`doveadm dmarc summary --limit` (organisations first, then the top source IPs, read from the
rollups), `dmarc show --records/--offset` (records paged), `dmarc rollup-rebuild`, and `dmarc export
--output` written in large writes, a full disk still reported, through a real doveadm."""

import json
import os
import subprocess
import tempfile

import dovecot_instance as di
from archiver_test import ArchiverTestCase
from dmarc_doveadm_fixtures import DAY, MAY_1, aggregate_xml, record

DOMAIN = "rollups.example"
EX_IOERR = 74
# Big Org: 300 sources 10.0.x.y, the i-th with i + 1 messages (45,150 in all).
BIG = [record(f"10.0.{i // 256}.{i % 256}", i + 1, "none", "pass", "fail") for i in range(300)]
# Mid Org: 40 records over four sources, 10 messages each source.
MID = [record(f"192.0.2.{i % 4}", 1, "quarantine", "fail", "pass") for i in range(40)]
SMALL = [record("198.51.100.1", 2, "reject", "fail", "fail")]


class DmarcRollupsTest(ArchiverTestCase):
    instance_options = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.files_dir = tempfile.mkdtemp(prefix="dmarc-rollups-", dir=cls.instance.root)
        paths = []
        for name, org, records, day in (("big", "Big Org", BIG, 0), ("mid", "Mid Org", MID, 1),
                                        ("small", "Small Org", SMALL, 2)):
            paths.append(os.path.join(cls.files_dir, name + ".xml"))
            with open(paths[-1], "wb") as f:
                f.write(aggregate_xml(org, name + "-1", DOMAIN, MAY_1 + day * DAY, records))
        cls.instance.doveadm_json("dmarc", "import", *paths)
        cls.big_id = next(r["id"] for r in cls.instance.doveadm_json("dmarc", "list")
                          if r["org"] == "Big Org")

    def summary(self, *args):
        return self.instance.doveadm_json("dmarc", "summary", "--domain", DOMAIN, *args)

    def test_summary_limit_puts_organisations_first(self):
        rows = self.summary("--limit", "2")
        self.assertEqual([r["scope"] for r in rows],
                         ["total", "org", "org", "source_ip", "source_ip"])
        self.assertEqual([r["key"] for r in rows[1:]],
                         ["Big Org", "Mid Org", "10.0.1.43", "10.0.1.42"])
        self.assertEqual([r["messages"] for r in rows[3:]], ["300", "299"])
        self.assertEqual(rows[0]["messages"], str(45150 + 40 + 2), "the total covers every row")
        self.assertEqual(rows[0]["reports"], "3")
        self.assertEqual(rows[2]["quarantine"], "40")
        # Default: 100 rows of each; 0: all of them.
        rows = self.summary()
        self.assertEqual(len(rows), 1 + 3 + 100)
        rows = self.summary("--limit", "0")
        self.assertEqual(len(rows), 1 + 3 + 300 + 4 + 1)
        self.assertEqual(rows[-1]["key"], "10.0.0.0")  # 1 message, ties broken by name
        by_key = {r["key"]: r for r in rows}
        self.assertEqual((by_key["192.0.2.3"]["messages"], by_key["192.0.2.3"]["spf_aligned_pct"]),
                         ("10", "100.0"))
        # Within a period and an organisation: still from the rollups, the same numbers.
        rows = self.summary("--since", "2024-05-02", "--limit", "1")
        self.assertEqual([(r["scope"], r["key"], r["messages"]) for r in rows],
                         [("total", DOMAIN, "42"), ("org", "Mid Org", "40"),
                          ("source_ip", "192.0.2.0", "10")])
        self.assertEqual(self.instance.doveadm("dmarc", "summary", "--domain", DOMAIN, "--limit",
                                               "-1").returncode, di.EX_USAGE)

    def show(self, *args):
        rows = self.instance.doveadm_json("dmarc", "show", *args, self.big_id)
        return sorted({int(r["section"].split(".")[1]) for r in rows
                       if r["section"].startswith("record.")}), rows

    def test_show_pages_records(self):
        shown, rows = self.show()
        self.assertEqual(shown, list(range(1, 101)), "100 records by default")
        self.assertIn({"section": "report", "field": "records", "value": "300"}, rows)
        shown, rows = self.show("--records", "5", "--offset", "10")
        self.assertEqual(shown, [11, 12, 13, 14, 15])
        fields = {(r["section"], r["field"]): r["value"] for r in rows}
        self.assertEqual(fields[("record.11", "source_ip")], "10.0.0.10")
        self.assertEqual(fields[("record.11", "count")], "11")
        self.assertEqual(self.show("--records", "0")[0], list(range(1, 301)))
        self.assertEqual(self.show("--offset", "295")[0], [296, 297, 298, 299, 300])
        self.assertEqual(self.show("--offset", "300")[0], [])
        for bad in (("--records", "-1"), ("--offset", "-5")):
            with self.subTest(args=bad):
                result = self.instance.doveadm("dmarc", "show", *bad, self.big_id)
                self.assertEqual(result.returncode, di.EX_USAGE, result)

    def test_rollup_rebuild_has_nothing_to_do_on_a_new_archive(self):
        self.assertEqual(self.instance.doveadm_json("dmarc", "rollup-rebuild"),
                         [{"reports": "0", "records": "0"}])
        # Run by root, it leaves the archive to its owner.
        for name in ("data.mdb", "lock.mdb"):
            self.assertEqual(os.stat(os.path.join(self.instance.archive_dir, name)).st_uid,
                             di.MAIL_UID)

    def test_export_writes_in_large_blocks(self):
        path = os.path.join(self.files_dir, "export.json")
        trace = os.path.join(self.files_dir, "export.strace")
        command = ["strace", "-f", "-qq", "-e", "trace=write,writev,pwrite64,pwritev", "-o", trace,
                   *self.instance.doveadm_command("dmarc", "export", "--format", "json",
                                                  "--output", path, fmt="json")]
        result = subprocess.run(command, capture_output=True, env=self.instance.env, timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
        self.assertEqual(json.loads(result.stdout)[0]["records"], str(len(BIG + MID + SMALL)))
        with open(path) as f:
            self.assertEqual(len(f.read().splitlines()), len(BIG + MID + SMALL))
        with open(trace) as f:
            writes = len(f.read().splitlines())
        # One write per row (341) before; the rows now fit in a few 64 KiB writes.
        self.assertLess(writes, 60, f"{writes} write calls")

    def test_export_to_a_full_disk_fails_with_ioerr(self):
        mount_point = tempfile.mkdtemp(prefix="full-", dir=self.files_dir)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mount_point],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", mount_point], check=True)
        path = os.path.join(mount_point, "export.csv")
        result = self.instance.doveadm("dmarc", "export", "--format", "csv", "--output", path)
        self.assertEqual(result.returncode, EX_IOERR, result)
        self.assertIn("No space left on device", result.stderr.decode(errors="replace"))
