#pragma once
// The on-disk kernel cache: compiled object code by kernel, so a second
// process starts warm. Lives in $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln,
// else ~/.cache/kiln; KILN_CACHE_DIR=off disables it. An entry stores the
// full key and a checksum next to the object, so neither a hash collision
// nor a damaged file can load the wrong code (a bad entry is deleted and the
// kernel compiled again); only regular files are read, with bounded reads;
// entries are written to a temporary file then renamed, so a crash or a
// concurrent process never leaves a torn entry. The cache is pruned once
// per process: entries unused for KILN_CACHE_MAX_DAYS (30) go, and past
// KILN_CACHE_MAX_MB (1024) the least recently used go.
#include <optional>
#include <string>

namespace kiln::disk_cache {

/// The object code stored for `key`, if any.
std::optional<std::string> load(const std::string& key);
/// Stores `object` for `key` (errors are ignored: the cache is an optimization).
void store(const std::string& key, const std::string& object);
/// A short stable id of `key` (16 hex digits): the entry's file name, and
/// the JIT's symbol name for the kernel, the same in every process.
std::string key_id(const std::string& key);
/// Prunes the cache (once per process; store() calls it).
void prune();
/// The directory in use, or empty when disabled.
const std::string& directory();

}  // namespace kiln::disk_cache
