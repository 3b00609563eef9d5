#!/usr/bin/env python3
"""Independent oracle for the shared DMARC corpus: record counts and message totals of
every aggregate report file (xml, gzip, zip, zlib), computed with Python's standard
library only (gzip/zlib/zipfile, xml.etree), never with our parser.

    python3 bench/dmarc/corpus_oracle.py [CORPUS_DIR]          # a readable table
    python3 bench/dmarc/corpus_oracle.py [CORPUS_DIR] --cxx    # rows for the unit test

The rows of tests/unit/dmarc_corpus_test.cc come from `--cxx`. Outcomes:
  ok           well-formed <feedback> documents: records and the sum of their counts
  malformed    not well-formed XML; `records` are those complete before the first error
               (what any recovery must at least salvage)
  not-dmarc    well-formed, but the root is not <feedback>
  empty        no bytes, or only whitespace
  no-report    a container holding no XML document (or nothing readable)
"""

import gzip
import io
import os
import sys
import xml.etree.ElementTree as ElementTree
import zipfile
import zlib

CONTAINERS = (".xml", ".gz", ".zip", ".zlib")


def local(tag):
    return tag.rsplit("}", 1)[-1]


def gunzip_all(data):
    """Every gzip member, bytes after the last member ignored (as mail clients do)."""
    out = b""
    while data[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(31)
        out += inflater.decompress(data)
        data = inflater.unused_data
    return out


def documents(data, depth=0):
    """The XML documents inside `data`, unpacked by content: [(name, bytes)]."""
    if depth > 3:
        raise ValueError("nested too deep")
    if data[:2] == b"\x1f\x8b":
        return documents(gunzip_all(data), depth + 1)
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        found = []
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                try:
                    found += [(info.filename, d) for _, d in documents(archive.read(info), depth + 1)]
                except ValueError:
                    pass  # an entry that is not XML
        return found
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"<" or not stripped:
        return [("", data)]
    if len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] * 256 + data[1]) % 31 == 0:
        return documents(zlib.decompress(data), depth + 1)
    raise ValueError("not XML, gzip, zip or zlib")


def count_records(root):
    records = messages = 0
    for record in root:
        if local(record.tag) != "record":
            continue
        records += 1
        for row in record:
            if local(row.tag) != "row":
                continue
            for field in row:
                if local(field.tag) == "count":
                    try:
                        messages += int((field.text or "").strip())
                    except ValueError:
                        pass  # a count that is not a number counts 0
    return records, messages


def complete_records_before_error(data):
    """Records closed before the first well-formedness error."""
    parser = ElementTree.XMLPullParser(events=("end",))
    records = messages = 0
    try:
        for byte in range(0, len(data), 256):
            parser.feed(data[byte:byte + 256])
            for _, element in parser.read_events():
                if local(element.tag) == "record":
                    r, m = count_records([element])
                    records, messages = records + r, messages + m
        parser.close()
    except ElementTree.ParseError:
        pass
    return records, messages


def examine(data):
    """(outcome, records, messages, detail) of one file's bytes."""
    try:
        docs = documents(data)
    except (ValueError, OSError, zlib.error, zipfile.BadZipFile, EOFError) as error:
        return "no-report", 0, 0, str(error)
    if not docs:
        return "no-report", 0, 0, "no XML document"
    if len(docs) != 1:
        return "several", 0, 0, "%d documents" % len(docs)
    xml = docs[0][1]
    if not xml.strip():
        return "empty", 0, 0, ""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as error:
        records, messages = complete_records_before_error(xml)
        return "malformed", records, messages, str(error)
    if local(root.tag) != "feedback":
        return "not-dmarc", 0, 0, "root <%s>" % local(root.tag)
    records, messages = count_records(root)
    return "ok", records, messages, ""


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    here = os.path.dirname(os.path.abspath(__file__))
    corpus = args[0] if args else os.path.join(here, "..", "..", "..", "shared", "corpus", "dmarc")
    aggregate = os.path.join(corpus, "aggregate")
    rows = []
    for source in sorted(os.listdir(aggregate)):
        for name in sorted(os.listdir(os.path.join(aggregate, source))):
            if not name.lower().endswith(CONTAINERS):
                continue
            with open(os.path.join(aggregate, source, name), "rb") as f:
                rows.append((source + "/" + name,) + examine(f.read()))
    for path, outcome, records, messages, detail in rows:
        if "--cxx" in sys.argv:
            print('      {"%s", k%s, %d, %d},' % (
                path, outcome.title().replace("-", ""), records, messages))
        else:
            print("%-10s %6d %6d  %s  %s" % (outcome, records, messages, path, detail))


if __name__ == "__main__":
    main()
