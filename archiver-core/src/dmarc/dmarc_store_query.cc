// DmarcStore's queries. Each runs in one read transaction and copies what it hands to
// the visitor out of the map. Reports and failure reports are found through their
// indexes (by policy domain, else by date), newest first, so a query for one domain and
// period reads only that domain's entries in that period. An archive without DMARC
// databases answers every query with nothing.
#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "archiver/dmarc/dmarc_store.h"
#include "base/ascii.h"
#include "dmarc/dmarc_store_codec.h"
#include "dmarc/dmarc_store_db.h"

namespace archiver {
namespace {

namespace codec = dmarc_codec;
using internal::DmarcDatabases;
using internal::DmarcDbs;

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

void AddTally(const DmarcTally& from, DmarcTally* to) {
  to->messages += from.messages;
  to->dmarc_pass += from.dmarc_pass;
  to->dkim_aligned += from.dkim_aligned;
  to->spf_aligned += from.spf_aligned;
  to->none += from.none;
  to->quarantine += from.quarantine;
  to->reject += from.reject;
  to->reports += from.reports;
}

// Most messages first, then by name.
std::vector<std::pair<std::string, DmarcTally>> Sorted(
    std::map<std::string, DmarcTally, std::less<>> tallies) {
  std::vector<std::pair<std::string, DmarcTally>> sorted(std::make_move_iterator(tallies.begin()),
                                                         std::make_move_iterator(tallies.end()));
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second.messages > b.second.messages;
  });
  return sorted;
}

// Runs `body` in a read transaction; `absent` when the archive has no DMARC databases.
Status InDmarcRead(lmdb::ArchiveEnv& archive, const std::function<Status(const lmdb::Txn&)>& body,
                   Status absent = Status::Ok()) {
  lmdb::Txn txn;
  bool present = false;
  Status begun = internal::BeginDmarcRead(archive, &txn, &present);
  if (!begun.ok()) return begun;
  return present ? body(txn) : absent;
}

}  // namespace

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
                               const std::function<bool(const AggregateRecord&)>& visit) const {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  return InDmarcRead(
      archive,
      [&](const lmdb::Txn& txn) {
        codec::StoredReport stored;
        Status read = ReadReport(txn, DmarcDbs(archive), report_id, &stored);
        if (!read.ok()) return read;
        AggregateRecord record;
        return internal::ForEachRecord(txn, DmarcDbs(archive), report_id,
                                       [&](uint32_t, std::string_view value, bool* stop) {
                                         Status decoded = codec::DecodeRecord(value, &record);
                                         *stop = decoded.ok() && !visit(record);
                                         return decoded;
                                       });
      },
      Status::NotFound("no DMARC report " + std::to_string(report_id)));
}

Result<DmarcSummary> DmarcStore::Summarize(const DmarcFilter& filter) const {
  if (!env_) return Status::InvalidArgument("no archive");
  lmdb::ArchiveEnv& archive = *env_;
  DmarcSummary summary;
  std::map<std::string, DmarcTally, std::less<>> by_ip, by_org;
  Status status = InDmarcRead(archive, [&](const lmdb::Txn& txn) {
    Status failed;
    Status walked = ForEachReport(txn, archive, filter, [&](const codec::StoredReport& stored) {
      AddTally(stored.tally, &summary.total);
      AddTally(stored.tally, &by_org[stored.report.meta.org_name]);
      // A source seen in several records of one report counts that report once.
      std::map<std::string_view, bool, std::less<>> seen;
      codec::RecordCore core;
      failed = internal::ForEachRecord(
          txn, DmarcDbs(archive), stored.report.id, [&](uint32_t, std::string_view value, bool*) {
            Status decoded = codec::DecodeRecordCore(value, &core);
            if (!decoded.ok()) return decoded;
            auto entry = by_ip.find(core.source_ip);
            if (entry == by_ip.end()) entry = by_ip.emplace(core.source_ip, DmarcTally{}).first;
            codec::CountRecord(core.count, core.disposition, core.dkim, core.spf, &entry->second);
            if (seen.emplace(entry->first, true).second) ++entry->second.reports;
            return Status::Ok();
          });
      return failed.ok();
    });
    return walked.ok() ? failed : walked;
  });
  if (!status.ok()) return status;
  summary.by_source_ip = Sorted(std::move(by_ip));
  summary.by_org = Sorted(std::move(by_org));
  return summary;
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
