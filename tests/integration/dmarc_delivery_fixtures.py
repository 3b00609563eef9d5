"""Fixtures of test_dmarc_delivery: report mails built with Python's email package (aggregate
reports attached as gzip, ZIP or XML, forwarded mails, ARF failure reports, hostile payloads),
and an independent reading of a report mail's aggregate reports with Python's own modules."""

import email
import email.policy
import gzip
import io
import os
import uuid
import zipfile
import zlib
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from xml.etree import ElementTree

import dovecot_instance as di
from dmarc_doveadm_fixtures import AGGREGATE_CORPUS, record
from dmarc_doveadm_fixtures import aggregate_xml as fixture_xml

REPORT_RCPT = "dmarc@example.org"
REPORTER = "noreply-dmarc-support@google.com"
USERS = ("alice", "bob", "carol", "dmarc")
# archiver_dmarc_wait: the tests read the reports right after the delivery, so the delivery
# waits for the reader (a loaded CI machine may take longer than the default second).
# test_dmarc_reader.py tests the default.
DMARC_SETTINGS = {"archiver_dmarc_mailboxes": f"{REPORT_RCPT} */DMARC",
                  "archiver_dmarc_max_size": "1M", "archiver_dmarc_wait": "60s"}
XXE_DOCTYPE = b'<!DOCTYPE feedback [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
DMARC_CORPUS = os.path.dirname(AGGREGATE_CORPUS)  # aggregate/ and forensic/


def unique_domain():
    return f"d{uuid.uuid4().hex[:12]}.example.com"


def aggregate_xml(domain, records, org="google.com", report_id=None, begin=1700000000,
                  prolog=b""):
    """An aggregate report about `domain` covering the day from `begin`; records are
    (source_ip, count, dkim, spf) tuples; `prolog` goes after the XML declaration."""
    xml = fixture_xml(org, report_id or uuid.uuid4().hex, domain, begin, [
        record(ip, count, "none", dkim, spf, header_from=domain,
               dkim_auth=[(domain, "s1", dkim)], spf_auth=[(domain, "mfrom", spf)])
        for ip, count, dkim, spf in records])
    return xml.replace(b"?>\n", b"?>\n" + prolog, 1)


def gzip_bomb(megabytes):
    """A gzip stream of `megabytes` MiB of zeros (about a thousandth of that compressed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    return b"".join([compressor.compress(chunk) for _ in range(megabytes)] + [compressor.flush()])


def report_message(subject, attachments, *, sender=REPORTER, to=REPORT_RCPT,
                   body="This is a DMARC aggregate report.\n"):
    """An EmailMessage with a text body and (data, maintype, subtype, filename) attachments."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="example.net")
    message.set_content(body)
    for data, maintype, subtype, filename in attachments:
        if isinstance(data, EmailMessage):
            message.add_attachment(data)
        else:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def wire(message):
    return di.to_wire(message.as_bytes(policy=SMTP))


def arf_report(domain, source_ip, original_from, original_subject, *, rfc822=False):
    """An RFC 6591 DMARC failure report: text, message/feedback-report and the original's
    headers (text/rfc822-headers) or the whole original (message/rfc822)."""
    boundary = "arf-" + uuid.uuid4().hex
    original = (f"From: {original_from}\r\nTo: victim@receiver.example\r\n"
                f"Subject: {original_subject}\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\n"
                f"Message-ID: <{uuid.uuid4().hex}@{domain}>\r\n\r\n")
    if rfc822:
        original_part = ("Content-Type: message/rfc822\r\n\r\n" + original
                         + "Please send the money today.\r\n")
    else:
        original_part = "Content-Type: text/rfc822-headers\r\n\r\n" + original
    text = (f"From: DMARC failures <dmarc-failures@receiver.example>\r\n"
            f"To: {REPORT_RCPT}\r\nSubject: DMARC failure report for {domain}\r\n"
            f"Date: {formatdate()}\r\nMessage-ID: {make_msgid(domain='receiver.example')}\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: multipart/report; "
            f"report-type=feedback-report; boundary=\"{boundary}\"\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
            f"This is an authentication failure report for {domain}.\r\n"
            f"--{boundary}\r\nContent-Type: message/feedback-report\r\n\r\n"
            f"Feedback-Type: auth-failure\r\nUser-Agent: receiver/1.0\r\nVersion: 1\r\n"
            f"Original-Mail-From: <bounce@{domain}>\r\n"
            f"Arrival-Date: Tue, 14 Nov 2023 10:00:05 +0000\r\nSource-IP: {source_ip}\r\n"
            f"Reported-Domain: {domain}\r\nAuth-Failure: dmarc\r\n"
            f"Authentication-Results: mx.receiver.example; dmarc=fail header.from={domain}\r\n"
            f"\r\n--{boundary}\r\n{original_part}--{boundary}--\r\n")
    return text.encode()


def reports_in_mail(raw):
    """[(org, report_id, records, messages)] of the aggregate reports attached to a mail, found
    without the archiver: Python's email package walks it, and each part that is gzip, ZIP or
    XML rooted in <feedback> is read with gzip, zipfile and ElementTree (a part that is neither,
    such as an HTML body, is skipped)."""
    reports = []
    for part in email.message_from_bytes(raw, policy=email.policy.default).walk():
        data = b"" if part.is_multipart() else part.get_payload(decode=True) or b""
        if data[:2] == b"\x1f\x8b":
            documents = [gzip.decompress(data)]
        elif data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                documents = [archive.read(name) for name in archive.namelist()]
        else:
            documents = [data] if data.lstrip()[:1] == b"<" and b"<feedback" in data else []
        for document in documents:
            root = ElementTree.fromstring(document)
            ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            records = root.findall(f"{ns}record")
            reports.append((root.findtext(f"{ns}report_metadata/{ns}org_name").strip(),
                            root.findtext(f"{ns}report_metadata/{ns}report_id").strip(),
                            len(records),
                            sum(int(r.findtext(f"{ns}row/{ns}count")) for r in records)))
    return reports
