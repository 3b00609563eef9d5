// Per-user module context of the mail plugin: settings parsed once, archive handle.
#include "mail/archiver-user.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <unistd.h>

#include <cstdio>
#include <list>
#include <memory>
#include <string>

#if DOVECOT_PREREQ(2, 4, 0)
#include "common/archiver-settings-event.h"
#endif

namespace archiver::plugin {
namespace {

struct archiver_user_context {
  union mail_user_module_context module_ctx;
  ArchiverUser* impl;  // owned; deleted in ArchiverUserDeinit
};

MODULE_CONTEXT_DEFINE_INIT(archiver_user_module, &mail_user_module_register);

archiver_user_context* ContextOf(struct mail_user* user) {
  return static_cast<archiver_user_context*>(MODULE_CONTEXT(user, archiver_user_module));
}

extern "C" void ArchiverUserDeinit(struct mail_user* user) {
  archiver_user_context* context = ContextOf(user);
  delete context->impl;  // noexcept destructors only
  context->impl = nullptr;
  context->module_ctx.super.deinit(user);
}

// Bytes of address space this process uses now (0 if unknown).
uint64_t CurrentAddressSpace() {
  FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  unsigned long long pages = 0;
  int fields = std::fscanf(statm, "%llu", &pages);
  std::fclose(statm);
  return fields == 1 ? pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// LMDB maps the whole archive (at least archiver_map_size, or the data file if it is
// larger) into the address space, which Dovecot limits per service (vsz_limit, by
// default 256M): say so plainly instead of failing with "Cannot allocate memory".
Status CheckAddressSpace(const ArchiverSettings& settings, const char* service) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_AS, &limit) < 0 || limit.rlim_cur == RLIM_INFINITY) return Status::Ok();
  uint64_t needed = settings.map_size;
  struct stat data_file;
  std::string data_path = settings.path + "/data.mdb";
  if (stat(data_path.c_str(), &data_file) == 0 && static_cast<uint64_t>(data_file.st_size) > needed)
    needed = static_cast<uint64_t>(data_file.st_size);
  // Dovecot itself (and archives this process has open already) need room too.
  const uint64_t in_use = CurrentAddressSpace() + (16ULL << 20);
  if (needed + in_use <= limit.rlim_cur) return Status::Ok();
  return Status::LimitExceeded(
      "opening the archive needs " + FormatBytes(needed) + " of address space " +
      "(archiver_map_size) but this process has only " +
      FormatBytes(limit.rlim_cur > in_use ? limit.rlim_cur - in_use : 0) + " of its " +
      FormatBytes(limit.rlim_cur) + " left: raise service " + service + " { vsz_limit } " +
      "or lower archiver_map_size (with one archive per user, each open archive counts)");
}

// Archives stay open between deliveries: an LMTP process delivers many messages to
// short-lived users, and opening an environment costs far more than archiving one
// message. Bounded, so that a process delivering to many per-user archives does not
// keep them all mapped. Dovecot mail processes are single-threaded.
class OpenArchives {
 public:
  static constexpr size_t kCapacity = 4;

  std::shared_ptr<Store> Find(const std::string& path) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->first != path) continue;
      entries_.splice(entries_.begin(), entries_, it);  // most recently used first
      return it->second;
    }
    return nullptr;
  }

  void Forget(const std::string& path) {
    entries_.remove_if([&path](const auto& entry) { return entry.first == path; });
  }

  void Remember(const std::string& path, std::shared_ptr<Store> store) {
    entries_.emplace_front(path, std::move(store));
    if (entries_.size() > kCapacity) entries_.pop_back();
  }

  // Returns how many were dropped (their environments close unless still in use).
  size_t Clear() {
    size_t dropped = entries_.size();
    entries_.clear();
    return dropped;
  }

 private:
  std::list<std::pair<std::string, std::shared_ptr<Store>>> entries_;
};

OpenArchives& ProcessArchives() {
  static OpenArchives archives;
  return archives;
}

}  // namespace

void CloseCachedArchives() { ProcessArchives().Clear(); }

ArchiverUser::ArchiverUser(ArchiverSettings settings, std::string username, std::string service)
    : settings_(std::move(settings)), username_(std::move(username)), service_(std::move(service)) {}

Result<std::shared_ptr<Store>> ArchiverUser::GetStore() {
  std::shared_ptr<Store> kept = ProcessArchives().Find(settings_.path);
  // An archive moved, replaced or removed since this process opened it is opened afresh
  // (or the delivery fails), never written through the old files.
  if (kept != nullptr && kept->StillAtPath().ok()) return kept;
  if (kept != nullptr) {
    // Let go of it first: while anyone holds it, Store::Open of the path returns it again.
    kept.reset();
    ProcessArchives().Forget(settings_.path);
  }
  Result<std::shared_ptr<Store>> opened = Store::Open(settings_.StoreOptionsFor(false));
  // Archives kept open for later deliveries must not stand in the way of this one
  // (address space, with per-user archives): close them and try once more.
  if (!opened.ok() && ProcessArchives().Clear() > 0)
    opened = Store::Open(settings_.StoreOptionsFor(false));
  if (!opened.ok()) {
    // The usual cause of a failed mmap: explain it in Dovecot's terms.
    Status fits = CheckAddressSpace(settings_, service_.c_str());
    return fits.ok() ? opened.status() : fits;
  }
  ProcessArchives().Remember(settings_.path, opened.value());
  return opened;
}

bool ArchiverUser::MailboxExcluded(const char* vname) const {
  return AnyWildcardMatches(settings_.exclude_mailboxes, vname);
}

ArchiverUser* ArchiverUserGet(struct mail_user* user) {
  archiver_user_context* context = ContextOf(user);
  return context == nullptr ? nullptr : context->impl;
}

void ArchiverUserCreated(struct mail_user* user) {
  // The raw user that LMTP and dovecot-lda read the incoming message with (and the
  // owners of shared namespaces) are internal: they never deliver anything.
  if (user->autocreated) return;
  try {
    ArchiverSettings settings;
#if DOVECOT_PREREQ(2, 4, 0)
    Status parsed = ReadArchiverSettings(user->event, true, true, &settings);
#else
    Status parsed = ParseArchiverSettings(
        [user](const char* name) { return mail_user_plugin_getenv(user, name); }, true, &settings);
#endif
    if (!parsed.ok()) {
      user->error = p_strdup_printf(user->pool, "archiver: %s", parsed.message().c_str());
      return;
    }
    if (AnyWildcardMatches(settings.exclude_users, user->username)) return;
    // ~/ in archiver_path is the user's home, as everywhere in Dovecot's settings.
    settings.path = mail_user_home_expand(user, settings.path.c_str());

    auto impl = std::make_unique<ArchiverUser>(std::move(settings), user->username,
                                               user->service != nullptr ? user->service : "");
    struct mail_user_vfuncs* vlast = user->vlast;
    archiver_user_context* context = p_new(user->pool, archiver_user_context, 1);
    context->module_ctx.super = *vlast;
    user->vlast = &context->module_ctx.super;
    vlast->deinit = ArchiverUserDeinit;
    context->impl = impl.release();
    MODULE_CONTEXT_SET(user, archiver_user_module, context);
  } catch (const std::exception& e) {
    user->error = p_strdup_printf(user->pool, "archiver: %s", e.what());
  } catch (...) {
    user->error = p_strdup(user->pool, "archiver: unexpected error while reading settings");
  }
}

}  // namespace archiver::plugin
