#include "runtime/disk_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

namespace kiln::disk_cache {

namespace fs = std::filesystem;

namespace {

uint64_t fnv1a(const char* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ull;
  }
  return h;
}

// An entry: "kiln-cache-2 <key size> <object size> <checksum>\n<key><object>".
// The checksum (FNV-1a of key and object) changes with any one changed byte,
// so a flipped bit never reaches the JIT; the key is compared in full, so a
// hash collision never loads another kernel's code.
constexpr const char* kMagic = "kiln-cache-2";
constexpr int64_t kMaxEntryBytes = int64_t(256) << 20;

std::string path_of(const std::string& key) { return directory() + "/" + key_id(key) + ".kobj"; }

std::string header(const std::string& key, const std::string& object) {
  std::string both = key + object;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s %zu %zu %016llx\n", kMagic, key.size(), object.size(),
                static_cast<unsigned long long>(fnv1a(both.data(), both.size())));
  return buf;
}

// Reads a whole regular file of at most kMaxEntryBytes; never blocks on a
// FIFO or device and never follows a link. Null if it is anything else.
std::optional<std::string> read_regular(const std::string& path, bool* bad) {
  *bad = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *bad = errno == ELOOP;  // a symbolic link where an entry should be
    return std::nullopt;
  }
  struct stat st {};
  std::string data;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= kMaxEntryBytes;
  if (ok) {
    data.resize(size_t(st.st_size));
    size_t got = 0;
    while (got < data.size()) {
      ssize_t r = ::read(fd, data.data() + got, data.size() - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += size_t(r);
    }
    ok = got == data.size();
    if (ok) ::futimens(fd, nullptr);  // last use, for pruning (fails quietly if read-only)
  }
  ::close(fd);
  if (!ok) {
    *bad = true;
    return std::nullopt;
  }
  return data;
}

// Checks an entry's bytes; the object if they hold `key`'s intact entry.
std::optional<std::string> parse(const std::string& all, const std::string& key) {
  size_t nl = all.find('\n');
  if (nl == std::string::npos || nl > 95) return std::nullopt;
  char magic[16] = {};
  unsigned long long n = 0, m = 0, sum = 0;
  std::string head = all.substr(0, nl);
  if (std::sscanf(head.c_str(), "%15s %llu %llu %llx", magic, &n, &m, &sum) != 4) return std::nullopt;
  if (std::strcmp(magic, kMagic) != 0 || n != key.size() || all.size() - nl - 1 != n + m) return std::nullopt;
  if (fnv1a(all.data() + nl + 1, n + m) != sum || all.compare(nl + 1, n, key) != 0) return std::nullopt;
  return all.substr(nl + 1 + n);
}

int64_t env_int(const char* name, int64_t dflt) {
  const char* e = std::getenv(name);
  return e && *e ? std::atoll(e) : dflt;
}

}  // namespace

std::string key_id(const std::string& key) {
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(fnv1a(key.data(), key.size())));
  return id;
}

const std::string& directory() {
  static const std::string dir = [] {
    std::string d;
    if (const char* e = std::getenv("KILN_CACHE_DIR")) {
      d = e;
      if (d == "off" || d == "0") return std::string();
    } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
      d = std::string(x) + "/kiln";
    } else if (const char* h = std::getenv("HOME"); h && *h) {
      d = std::string(h) + "/.cache/kiln";
    } else {
      return std::string();
    }
    std::error_code ec;
    fs::create_directories(d, ec);
    return ec || !fs::is_directory(d, ec) ? std::string() : d;
  }();
  return dir;
}

std::optional<std::string> load(const std::string& key) {
  if (directory().empty()) return std::nullopt;
  std::string path = path_of(key);
  bool bad = false;
  std::optional<std::string> all = read_regular(path, &bad);
  std::optional<std::string> object = all ? parse(*all, key) : std::nullopt;
  if (!object && (bad || all)) {
    // Damaged, foreign or not a file at all: remove it; the kernel is
    // compiled again and stored afresh.
    std::error_code ec;
    fs::remove(path, ec);
  }
  return object;
}

void store(const std::string& key, const std::string& object) {
  if (directory().empty()) return;
  prune();
  std::string path = path_of(key);
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  std::error_code ec;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << header(key, object) << key << object;
    out.close();
    if (!out) {  // a full disk or a read-only directory: no entry, no debris
      fs::remove(tmp, ec);
      return;
    }
  }
  fs::rename(tmp, path, ec);  // atomic: a concurrent reader sees the old entry or the new one
  if (ec) fs::remove(tmp, ec);
}

void prune() {
  static std::once_flag once;
  std::call_once(once, [] {
    const std::string& dir = directory();
    if (dir.empty()) return;
    int64_t max_bytes = env_int("KILN_CACHE_MAX_MB", 1024) << 20;
    auto max_age = std::chrono::hours(24 * env_int("KILN_CACHE_MAX_DAYS", 30));
    auto now = fs::file_time_type::clock::now();
    struct Entry {
      fs::path path;
      fs::file_time_type used;
      uintmax_t bytes;
    };
    std::vector<Entry> entries;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      std::string name = p.filename().string();
      bool entry = name.size() > 5 && name.compare(name.size() - 5, 5, ".kobj") == 0;
      bool tmp = name.find(".kobj.tmp") != std::string::npos;
      if (!entry && !tmp) continue;  // never touch what kiln did not write
      std::error_code e2;
      auto used = fs::last_write_time(p, e2);
      if (e2) continue;
      if (now - used > (tmp ? std::chrono::hours(1) : max_age)) {
        fs::remove(p, e2);
      } else if (entry) {
        uintmax_t bytes = fs::file_size(p, e2);
        if (!e2) entries.push_back({p, used, bytes});
      }
    }
    uintmax_t total = 0;
    for (const Entry& e : entries) total += e.bytes;
    if (total <= uintmax_t(max_bytes)) return;
    // Least recently used first, down to 3/4 of the limit.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.used < b.used; });
    for (const Entry& e : entries) {
      if (total <= uintmax_t(max_bytes) / 4 * 3) break;
      std::error_code e2;
      if (fs::remove(e.path, e2)) total -= e.bytes;
    }
  });
}

}  // namespace kiln::disk_cache
