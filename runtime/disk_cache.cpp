#include "runtime/disk_cache.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kiln::disk_cache {

namespace {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string path_of(const std::string& key) { return directory() + "/" + key_id(key) + ".kobj"; }

}  // namespace

std::string key_id(const std::string& key) {
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(fnv1a(key)));
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
    std::filesystem::create_directories(d, ec);
    return ec ? std::string() : d;
  }();
  return dir;
}

std::optional<std::string> load(const std::string& key) {
  if (directory().empty()) return std::nullopt;
  std::ifstream in(path_of(key), std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  // "[key size] [object size]\n[key][object]": both checked, so neither a
  // hash collision nor a torn file can load the wrong bytes.
  size_t nl = all.find('\n');
  if (nl == std::string::npos) return std::nullopt;
  char* end = nullptr;
  size_t n = std::strtoull(all.c_str(), &end, 10);
  size_t m = std::strtoull(end, nullptr, 10);
  if (all.size() != nl + 1 + n + m || all.compare(nl + 1, n, key) != 0) return std::nullopt;
  return all.substr(nl + 1 + n);
}

void store(const std::string& key, const std::string& object) {
  if (directory().empty()) return;
  std::string path = path_of(key);
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  std::error_code ec;
  {
    std::ofstream out(tmp, std::ios::binary);
    out << key.size() << ' ' << object.size() << '\n' << key << object;
    out.close();
    if (!out) {  // a full disk must not leave a truncated entry behind
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

}  // namespace kiln::disk_cache
