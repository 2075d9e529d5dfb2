#pragma once
// The on-disk kernel cache: compiled object code by kernel, so a second
// process starts warm. Lives in $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln,
// else ~/.cache/kiln; KILN_CACHE_DIR=off disables it. An entry stores the
// full key next to the object, so a hash collision can never load the wrong
// code, and is written to a temporary file then renamed, so a crash or a
// concurrent process never leaves a torn entry.
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
/// The directory in use, or empty when disabled.
const std::string& directory();

}  // namespace kiln::disk_cache
