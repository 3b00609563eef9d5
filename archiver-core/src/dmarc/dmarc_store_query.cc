// DmarcStore's queries. Each runs in one read transaction and copies what it hands to
// the visitor out of the map. Reports and failure reports are found through their
// indexes (by policy domain, else by date), newest first, so a query for one domain and
// period reads only that domain's entries in that period. An archive without DMARC
// databases answers every query with nothing.
#include <algorithm>
#include <cstring>
#include <optional>

#include "archiver/dmarc/dmarc_store.h"
#include "base/ascii.h"
#include "dmarc/dmarc_store_codec.h"
#include "dmarc/dmarc_store_db.h"
#include "dmarc/dmarc_store_query.h"

namespace archiver {
namespace {

namespace codec = dmarc_codec;
using internal::DmarcDatabases;
using internal::DmarcDbs;
using internal::ForEachReport;
using internal::InDmarcRead;

// Visits the ids of a time index with since <= time < until, newest first, until
// `visit` sets *stop. With `domain`, `dbi` is a DUPSORT index whose values under that
// key are time keys; without, a database whose keys are time keys.
Status WalkTimeIndex(const lmdb::Txn& txn, MDB_dbi dbi, const std::string* domain, int64_t since,
                     int64_t until, const std::function<Status(uint64_t id, bool* stop)>& visit) {
  const codec::TimeKey bound = codec::EncodeTimeKey(until, 0);
  std::optional<std::string_view> duplicates_of;
  if (domain != nullptr) duplicates_of = *domain;
  return internal::WalkBackwardsBelow(
      txn, dbi, duplicates_of, codec::View(bound),
      [&](std::string_view key, std::string_view value, bool* stop) {
        int64_t time = 0;
        uint64_t id = 0;
        if (!codec::DecodeTimeKey(domain != nullptr ? value : key, &time, &id)) {
          return Status::Corruption("a DMARC time index entry is not 16 bytes");
        }
        *stop = time < since;
        return *stop ? Status::Ok() : visit(id, stop);
      },
      "read a DMARC index");
}

Status ReadReport(const lmdb::Txn& txn, const DmarcDatabases& db, uint64_t id,
                  codec::StoredReport* stored) {
  std::string_view value;
  Status found = txn.Get(db.reports, codec::View(codec::EncodeId(id)), &value);
  if (found.code() == Status::Code::kNotFound) {
    return Status::NotFound("no DMARC report " + std::to_string(id));
  }
  if (found.ok()) found = codec::DecodeReport(value, stored);
  if (found.ok() && stored->importing) {
    return Status::NotFound("DMARC report " + std::to_string(id) + " is still being imported");
  }
  stored->report.id = id;
  return found.Annotated("DMARC report " + std::to_string(id));
}

Status ReadFailure(const lmdb::Txn& txn, const DmarcDatabases& db, uint64_t id,
                   DmarcFailure* failure) {
  std::string_view value;
  Status found = txn.Get(db.failures, codec::View(codec::EncodeId(id)), &value);
  if (found.code() == Status::Code::kNotFound) {
    return Status::NotFound("no DMARC failure report " + std::to_string(id));
  }
  if (found.ok()) found = codec::DecodeFailure(value, failure);
  failure->id = id;
  return found.Annotated("DMARC failure report " + std::to_string(id));
}

bool ContainsIgnoreCase(std::string_view text, std::string_view part) {
  return ascii::Lowercase(text).find(ascii::Lowercase(part)) != std::string::npos;
}

}  // namespace

namespace internal {

// The complete reports matching `filter`, newest range first, within `txn`.
Status ForEachReport(const lmdb::Txn& txn, const lmdb::ArchiveEnv& archive,
                     const DmarcFilter& filter,
                     const std::function<bool(const codec::StoredReport&)>& visit) {
  const DmarcDatabases& db = DmarcDbs(archive);
  const std::string domain = internal::DomainKey(archive, filter.domain);
  uint64_t visited = 0;
  return WalkTimeIndex(
      txn, filter.domain.empty() ? db.idx_date : db.idx_domain,
      filter.domain.empty() ? nullptr : &domain, filter.since, filter.until,
      [&](uint64_t id, bool* stop) {
        codec::StoredReport stored;
        Status read = ReadReport(txn, db, id, &stored);
        if (!read.ok()) return read;
        const AggregateReportMeta& meta = stored.report.meta;
        if (!filter.domain.empty() &&
            !ascii::EqualsIgnoreCase(meta.policy_published.domain, filter.domain)) {
          return Status::Ok();  // a longer domain whose index key was cut
        }
        if (!filter.org.empty() && !ContainsIgnoreCase(meta.org_name, filter.org)) {
          return Status::Ok();
        }
        *stop = !visit(stored) || (filter.limit != 0 && ++visited >= filter.limit);
        return Status::Ok();
      });
}

// Runs `body` in a read transaction; `absent` when the archive has no DMARC databases.
Status InDmarcRead(lmdb::ArchiveEnv& archive, const std::function<Status(const lmdb::Txn&)>& body,
                   Status absent) {
  lmdb::Txn txn;
  bool present = false;
  Status begun = internal::BeginDmarcRead(archive, &txn, &present);
  if (!begun.ok()) return begun;
  return present ? body(txn) : absent;
}

}  // namespace internal

Status DmarcStore::ListReports(const DmarcFilter& filter,
                               const std::function<bool(const DmarcReport&)>& visit) const {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  return InDmarcRead(archive, [&](const lmdb::Txn& txn) {
    return ForEachReport(txn, archive, filter,
                         [&](const codec::StoredReport& stored) { return visit(stored.report); });
  });
}

Result<DmarcReport> DmarcStore::GetReport(uint64_t id) const {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  codec::StoredReport stored;
  Status read = InDmarcRead(
      archive,
      [&](const lmdb::Txn& txn) { return ReadReport(txn, DmarcDbs(archive), id, &stored); },
      Status::NotFound("no DMARC report " + std::to_string(id)));
  if (!read.ok()) return read;
  return stored.report;
}

Status DmarcStore::ListRecords(uint64_t report_id,
                               const std::function<bool(const AggregateRecord&)>& visit,
                               uint64_t first) const {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  return InDmarcRead(
      archive,
      [&](const lmdb::Txn& txn) {
        codec::StoredReport stored;
        Status read = ReadReport(txn, DmarcDbs(archive), report_id, &stored);
        if (!read.ok()) return read;
        if (first >= stored.report.records) return Status::Ok();
        AggregateRecord record;
        return internal::ForEachRecord(
            txn, DmarcDbs(archive), report_id,
            [&](uint32_t, std::string_view value, bool* stop) {
              Status decoded = codec::DecodeRecord(value, &record);
              *stop = decoded.ok() && !visit(record);
              return decoded;
            },
            static_cast<uint32_t>(first));
      },
      Status::NotFound("no DMARC report " + std::to_string(report_id)));
}

Status DmarcStore::ListFailures(const DmarcFilter& filter,
                                const std::function<bool(const DmarcFailure&)>& visit) const {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  return InDmarcRead(archive, [&](const lmdb::Txn& txn) {
    const DmarcDatabases& db = DmarcDbs(archive);
    const std::string domain = internal::DomainKey(archive, filter.domain);
    uint64_t visited = 0;
    return WalkTimeIndex(
        txn, filter.domain.empty() ? db.failure_date : db.failure_domain,
        filter.domain.empty() ? nullptr : &domain, filter.since, filter.until,
        [&](uint64_t id, bool* stop) {
          DmarcFailure failure;
          Status read = ReadFailure(txn, db, id, &failure);
          if (!read.ok()) return read;
          if (!filter.domain.empty() &&
              !ascii::EqualsIgnoreCase(failure.report.policy_domain, filter.domain)) {
            return Status::Ok();
          }
          *stop = !visit(failure) || (filter.limit != 0 && ++visited >= filter.limit);
          return Status::Ok();
        });
  });
}

Result<DmarcFailure> DmarcStore::GetFailure(uint64_t id) const {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  DmarcFailure failure;
  Status read = InDmarcRead(
      archive,
      [&](const lmdb::Txn& txn) { return ReadFailure(txn, DmarcDbs(archive), id, &failure); },
      Status::NotFound("no DMARC failure report " + std::to_string(id)));
  if (!read.ok()) return read;
  return failure;
}

Status DmarcStore::ListErrors(const std::function<bool(const DmarcError&)>& visit) const {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  return InDmarcRead(archive, [&](const lmdb::Txn& txn) {
    return internal::WalkEntries(
        txn, DmarcDbs(archive).errors, MDB_LAST, {}, MDB_PREV,
        [&](std::string_view key, std::string_view value, bool* stop) {
          DmarcError error;
          if (!codec::DecodeId(key, &error.id)) {
            return Status::Corruption("a dmarc_errors key is not 8 bytes");
          }
          Status decoded = codec::DecodeError(value, &error);
          if (!decoded.ok()) return decoded.Annotated("DMARC error " + std::to_string(error.id));
          *stop = !visit(error);
          return Status::Ok();
        });
  });
}

Status DmarcStore::ListMails(const std::function<bool(const DmarcMail&)>& visit) const {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  return InDmarcRead(archive, [&](const lmdb::Txn& txn) {
    return internal::WalkEntries(
        txn, DmarcDbs(archive).mails, MDB_FIRST, {}, MDB_NEXT,
        [&](std::string_view key, std::string_view value, bool* stop) {
          DmarcMail mail;
          if (key.size() != mail.mail.size()) {
            return Status::Corruption("a dmarc_mails key is not 32 bytes");
          }
          std::memcpy(mail.mail.data(), key.data(), key.size());
          Status decoded = codec::DecodeMail(value, &mail);
          if (!decoded.ok()) return decoded.Annotated("DMARC report mail " + ToHex(mail.mail));
          *stop = !visit(mail);
          return Status::Ok();
        });
  });
}

Result<bool> DmarcStore::MailNoted(const MessageId& mail) const {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  bool noted = false;
  Status read = InDmarcRead(archive, [&](const lmdb::Txn& txn) {
    std::string_view value;
    Status found = txn.Get(DmarcDbs(archive).mails, codec::View(mail), &value);
    noted = found.ok();
    return found.code() == Status::Code::kNotFound ? Status::Ok() : found;
  });
  if (!read.ok()) return read;
  return noted;
}

}  // namespace archiver
