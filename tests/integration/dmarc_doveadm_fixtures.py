"""Fixtures of test_dmarc_doveadm: DMARC aggregate reports built from small tables (so that the
tests can compute every expected number from the same tables), report mails, an ARF failure
report, and an independent reading of report files with Python's own modules (gzip, zipfile,
zlib, email, xml.etree) to check the archiver's counts against."""

import datetime
import gzip
import io
import os
import zipfile
import zlib
from email import message_from_bytes, policy
from email.message import EmailMessage
from xml.etree import ElementTree

import dovecot_instance as di
from archiver_test import sha256

AGGREGATE_CORPUS = os.path.normpath(os.path.join(
    os.path.dirname(di.MAIL_CORPUS), "dmarc", "aggregate"))
REPORT_RCPT = "dave@example.org"
MAY_1 = 1714521600  # 2024-05-01T00:00:00Z
DAY = 86400


def record(ip, count, disposition, dkim, spf, *, header_from="summary.example", reasons=(),
           dkim_auth=(), spf_auth=()):
    return dict(ip=ip, count=count, disposition=disposition, dkim=dkim, spf=spf,
                header_from=header_from, reasons=reasons, dkim_auth=dkim_auth, spf_auth=spf_auth)


def aggregate_xml(org, report_id, domain, begin, records, p="none"):
    """An RFC 7489 aggregate report; `records` as made by record()."""
    parts = [f"""<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <report_metadata>
    <org_name>{org}</org_name>
    <email>noreply@{org.lower().replace(' ', '-')}.example</email>
    <report_id>{report_id}</report_id>
    <date_range><begin>{begin}</begin><end>{begin + DAY - 1}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>{p}</p><sp>{p}</sp><pct>100</pct>
  </policy_published>"""]
    for r in records:
        reasons = "".join(f"<reason><type>{t}</type><comment>{_escape(c)}</comment></reason>"
                          for t, c in r["reasons"])
        dkim_auth = "".join(f"<dkim><domain>{d}</domain><selector>{s}</selector>"
                            f"<result>{res}</result></dkim>" for d, s, res in r["dkim_auth"])
        spf_auth = "".join(f"<spf><domain>{d}</domain><scope>{s}</scope><result>{res}</result>"
                           f"</spf>" for d, s, res in r["spf_auth"])
        parts.append(f"""
  <record>
    <row>
      <source_ip>{r['ip']}</source_ip><count>{r['count']}</count>
      <policy_evaluated><disposition>{r['disposition']}</disposition><dkim>{r['dkim']}</dkim>
        <spf>{r['spf']}</spf>{reasons}</policy_evaluated>
    </row>
    <identifiers><header_from>{r['header_from']}</header_from></identifiers>
    <auth_results>{dkim_auth}{spf_auth}</auth_results>
  </record>""")
    parts.append("\n</feedback>\n")
    return "".join(parts).encode()


def _escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def zip_bytes(name, data):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def report_mail(subject, attachment, filename, *, content_type=("application", "gzip")):
    """A report mail as a reporter sends it: a text part and the report attached (base64)."""
    message = EmailMessage()
    message["From"] = "noreply-dmarc@reporter.example"
    message["To"] = REPORT_RCPT
    message["Subject"] = subject
    message["Message-ID"] = f"<{sha256(attachment)[:24]}@reporter.example>"
    message.set_content("This is a DMARC aggregate report.\n")
    message.add_attachment(attachment, maintype=content_type[0], subtype=content_type[1],
                           filename=filename)
    return di.to_wire(message.as_bytes(policy=policy.SMTP))


ARF_MAIL = b"""From: <abuse@receiver.example>
To: <dmarc-ruf@summary.example>
Subject: DMARC failure report for summary.example
Date: Thu, 2 May 2024 10:00:00 +0000
Message-ID: <arf-1@receiver.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b1"

--b1
Content-Type: text/plain; charset=us-ascii

An authentication failure report.
--b1
Content-Type: message/feedback-report

Feedback-Type: auth-failure
User-Agent: Receiver/1.0
Version: 1
Original-Mail-From: <spoof@summary.example>
Arrival-Date: Thu, 2 May 2024 09:59:00 +0000
Source-IP: 203.0.113.9
Reported-Domain: summary.example
Auth-Failure: dmarc
Delivery-Result: reject
--b1
Content-Type: text/rfc822-headers

From: Spoofer <spoof@summary.example>
To: <victim@receiver.example>
Subject: Your invoice
Date: Thu, 2 May 2024 09:58:00 +0000
Message-ID: <spoofed-1@summary.example>
--b1--
""".replace(b"\n", b"\r\n")

# The hand-computed example: two reports about summary.example (counts chosen so that every
# percentage is exact to one decimal).
REPORT_A = dict(org="Org One", report_id="a-2024-05-01", domain="summary.example", begin=MAY_1,
                records=[
                    record("192.0.2.1", 6, "none", "pass", "pass",
                           reasons=[("forwarded", 'list, "quoted"')],
                           dkim_auth=[("summary.example", "s1", "pass"),
                                      ("esp.example", "k2", "fail")],
                           spf_auth=[("summary.example", "mfrom", "pass")]),
                    record("192.0.2.2", 3, "quarantine", "fail", "pass"),
                    record("192.0.2.3", 1, "reject", "fail", "fail"),
                ])
REPORT_B = dict(org="Org Two", report_id="b-2024-05-02", domain="summary.example",
                begin=MAY_1 + DAY, records=[
                    record("192.0.2.1", 4, "none", "pass", "fail"),
                    record("198.51.100.7", 6, "reject", "fail", "fail"),
                ])
REPORT_C = dict(org="Zip Org", report_id="c-1", domain="other.example", begin=MAY_1 + 2 * DAY,
                records=[record("192.0.2.50", 2, "none", "pass", "pass",
                                header_from="other.example")])
REPORT_D = dict(org="Zlib Org", report_id="d-1", domain="other.example", begin=MAY_1 + 3 * DAY,
                records=[record("192.0.2.60", 5, "none", "fail", "pass",
                                header_from="other.example"),
                         record("192.0.2.61", 1, "none", "fail", "fail",
                                header_from="other.example")])
REPORT_E = dict(org="Mail Org", report_id="e-1", domain="other.example", begin=MAY_1 + 4 * DAY,
                records=[record("192.0.2.70", 7, "none", "pass", "pass",
                                header_from="other.example")])
REPORTS = (REPORT_A, REPORT_B, REPORT_C, REPORT_D, REPORT_E)


def xml_of(report):
    return aggregate_xml(report["org"], report["report_id"], report["domain"], report["begin"],
                         report["records"])


def iso(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def python_reports(path):
    """[(org, report_id, records, messages)] of the aggregate reports in a corpus file, read with
    Python's own modules; None when Python cannot read all of it."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        if path.endswith(".eml"):
            documents = []
            for part in message_from_bytes(data, policy=policy.default).walk():
                if part.is_multipart():
                    continue
                body = part.get_payload(decode=True) or b""
                if body[:2] == b"\x1f\x8b" or body[:2] == b"PK" or body.lstrip()[:1] == b"<":
                    documents += _payload_documents(body)
            if not documents:
                return None
        else:
            documents = _payload_documents(data)
        return [_python_report(document) for document in documents]
    except (ElementTree.ParseError, OSError, zipfile.BadZipFile, zlib.error, EOFError,
            ValueError, KeyError):
        return None


def _payload_documents(data):
    if data[:2] == b"\x1f\x8b":
        return _payload_documents(gzip.decompress(data))
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(name) for name in archive.namelist() if not name.endswith("/")]
    if data[:1] == b"\x78":
        return _payload_documents(zlib.decompress(data))
    return [data]


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _python_report(document):
    if b"<!DOCTYPE" in document:
        raise ValueError("a DOCTYPE: refused by the archiver's hardened reader, on purpose")
    root = ElementTree.fromstring(document)
    if _local(root.tag) != "feedback":
        raise ValueError("not a feedback document")

    def text(element, *path):
        for name in path:
            element = next((c for c in element if _local(c.tag) == name), None)
            if element is None:
                return ""
        return (element.text or "").strip()

    records = [c for c in root if _local(c.tag) == "record"]
    messages = 0
    for r in records:
        try:
            messages += int(text(r, "row", "count"))
        except ValueError:
            pass
    return (text(root, "report_metadata", "org_name"), text(root, "report_metadata", "report_id"),
            len(records), messages)
