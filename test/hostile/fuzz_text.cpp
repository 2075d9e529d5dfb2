// kiln_fuzz_text: a mutation fuzzer for the .kiln parser and the `kilnc --run`
// path, in one process (no libFuzzer needed).
//
// Seeds are the graphs of test/lit/*.kiln (split at split-file's "#---"
// markers, comment lines dropped) and every file of test/hostile/crashers/.
// Each round mutates a seed (byte flips, inserted / deleted / duplicated
// bytes and lines, lines spliced from other seeds, numbers replaced by
// extreme values, huge shapes, deep nesting, renamed ops) and feeds it to
// kiln::text::parse; when it parses and its values are small (inputs of at
// most 2^20 elements, no value above 2^22), it is run with random inputs as
// kilnc --run does. Any exception other than kiln::Error is a failure; a
// crash kills the process, so each input is first written to
// $KILN_FUZZ_OUT/current.kiln, and a crash or a hang names that file.
//
// Before fuzzing, every file in the crashers folder is replayed: each must
// parse and run, or raise kiln::Error.
//
//   kiln_fuzz_text LIT_DIR CRASHERS_DIR
//   KILN_FUZZ_SECONDS  how long to fuzz (default 60; 0 replays the crashers only)
//   KILN_FUZZ_SEED     the mutation seed (default: 1; "time" for the clock)
//   KILN_FUZZ_OUT      where current.kiln and failure-*.kiln go (default:
//                      the working directory, the build dir under CTest)
//   KILN_FUZZ_HANG     seconds one input may take (default 20)
//
// To keep a crasher: copy $KILN_FUZZ_OUT/current.kiln (or a failure-*.kiln)
// to test/hostile/crashers/NAME.kiln; once kiln is fixed it is replayed on
// every run.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include <kiln/kiln.h>

#include "graph/node.h"
#include "runtime/big_stack.h"
#include "runtime/buffer.h"
#include "tensor/tensor_impl.h"
#include "text/parser.h"
#include "text/printer.h"

namespace fs = std::filesystem;
using kiln::Node;
using kiln::NodeRef;
using kiln::Op;

namespace {

// ---- where the current input lives (for the signal handlers) ---------------
char g_current[4096];
int g_hang_seconds = 20;

void write_str(const char* s) {
  ssize_t r = write(2, s, std::strlen(s));
  (void)r;
}

void on_crash(int sig) {
  write_str("\nkiln_fuzz_text: CRASH (");
  write_str(sig == SIGSEGV ? "SIGSEGV" : sig == SIGABRT ? "SIGABRT" : sig == SIGFPE ? "SIGFPE" : sig == SIGBUS ? "SIGBUS" : "signal");
  write_str(") on the input saved at ");
  write_str(g_current);
  write_str("\n  keep it: cp ");
  write_str(g_current);
  write_str(" test/hostile/crashers/NAME.kiln\n");
  signal(sig, SIG_DFL);
  raise(sig);
}

void on_alarm(int) {
  write_str("\nkiln_fuzz_text: HANG (no answer within KILN_FUZZ_HANG seconds) on the input saved at ");
  write_str(g_current);
  write_str("\n");
  _exit(3);
}

void install_handlers() {
  // An alternate stack, so a stack overflow is reported too, unless the
  // thread has one (a sanitizer's runtime installs its own, and unmaps it
  // when the thread ends: replacing it made that unmap fail under ASan).
  stack_t old{};
  if (sigaltstack(nullptr, &old) != 0 || (old.ss_flags & SS_DISABLE)) {
    static std::vector<char> alt(1 << 16);
    stack_t ss{};
    ss.ss_sp = alt.data();
    ss.ss_size = alt.size();
    sigaltstack(&ss, nullptr);
  }
  struct sigaction sa{};
  sa.sa_handler = on_crash;
  sa.sa_flags = SA_ONSTACK;
  for (int sig : {SIGSEGV, SIGABRT, SIGFPE, SIGBUS, SIGILL}) sigaction(sig, &sa, nullptr);
  signal(SIGALRM, on_alarm);
}

// ---- running an input, as kilnc --run does -----------------------------------

constexpr int64_t kMaxInput = int64_t(1) << 20;
constexpr double kMaxValue = double(int64_t(1) << 22);

struct Stats {
  int64_t inputs = 0, parsed = 0, ran = 0, skipped_large = 0, kiln_errors = 0;
};


double numel_d(const kiln::Shape& s) {
  double n = 1;
  for (int64_t d : s) n *= double(d);
  return n;
}

// The largest value the graph computes (in elements).
double largest_value(const std::vector<NodeRef>& outputs) {
  std::unordered_set<const Node*> seen;
  std::vector<const Node*> stack;
  for (const NodeRef& o : outputs) stack.push_back(o.get());
  double most = 0;
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    most = std::max(most, numel_d(n->shape));
    for (const NodeRef& x : n->inputs) stack.push_back(x.get());
  }
  return most;
}

// What kilnc checks before running (kiln::text::check_data): index values in
// range and integer divisors non-zero; the C++ API checks these at the call,
// the text cannot.
void check_data(const std::vector<NodeRef>& outputs) {
  kiln::text::DataError e = kiln::text::check_data(outputs);
  if (!e.message.empty()) throw kiln::Error(e.message);
}

// Parses `src` and, when it is small, runs it. Returns "" or what went wrong
// (an exception other than kiln::Error).
std::string try_input(const std::string& src, const std::string& base_dir, uint64_t seed, Stats& st) {
  ++st.inputs;
  try {
    kiln::text::ParseOptions po;
    po.filename = "fuzz.kiln";
    po.base_dir = base_dir;
    kiln::text::Parsed p = kiln::text::parse(src, po);  // inputs without data: placeholders
    ++st.parsed;
    bool small = largest_value(p.outputs) <= kMaxValue;
    for (const auto& d : p.input_decls) small &= numel_d(d.shape) <= double(kMaxInput);
    {
      kiln::text::PrintOptions pr;
      pr.names = &p.names;
      pr.inputs = p.inputs;
      (void)kiln::text::print(p.outputs, pr);
    }
    if (!small) {
      ++st.skipped_large;
      return "";
    }
    std::mt19937_64 rng(seed);
    po.input_data = [&](const kiln::text::InputDecl& d) -> std::shared_ptr<kiln::Buffer> {
      return d.has_data ? nullptr : kiln::text::random_input(d, rng);
    };
    kiln::text::Parsed q = kiln::text::parse(src, po);
    check_data(q.outputs);
    std::vector<kiln::Tensor> results;
    for (const NodeRef& n : q.outputs) results.push_back(kiln::wrap(n));
    q.values.clear();
    kiln::realize(results);
    for (const kiln::Tensor& t : results) (void)t.str();  // printing, as --run does
    ++st.ran;
  } catch (const kiln::Error&) {
    ++st.kiln_errors;
  } catch (const std::exception& e) {
    return std::string("an exception other than kiln::Error: ") + e.what();
  } catch (...) {
    return "an exception of unknown type";
  }
  return "";
}

// ---- seeds --------------------------------------------------------------------

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A lit file's graphs: split at "#--- name" lines, comment lines dropped.
std::vector<std::string> graphs_of(const std::string& text) {
  std::vector<std::string> out(1);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("#---", 0) == 0) {
      out.emplace_back();
      continue;
    }
    size_t k = line.find_first_not_of(" \t");
    if (k == std::string::npos || line[k] == '#') continue;
    out.back() += line + "\n";
  }
  std::vector<std::string> kept;
  for (auto& g : out)
    if (!g.empty()) kept.push_back(g);
  return kept;
}

std::vector<fs::path> files_in(const fs::path& dir, const char* ext) {
  std::vector<fs::path> v;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ext) v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

// ---- mutations -------------------------------------------------------------------

struct Mutator {
  std::mt19937_64 rng;
  const std::vector<std::string>& seeds;
  std::vector<std::string> ops;  // op names seen in the seeds

  Mutator(uint64_t seed, const std::vector<std::string>& s) : rng(seed), seeds(s) {
    std::unordered_set<std::string> seen;
    for (const std::string& g : seeds)
      for (size_t p = g.find("= "); p != std::string::npos; p = g.find("= ", p + 1)) {
        size_t b = p + 2, e = b;
        while (e < g.size() && (std::isalnum(static_cast<unsigned char>(g[e])) || g[e] == '_')) ++e;
        if (e > b && seen.insert(g.substr(b, e - b)).second) ops.push_back(g.substr(b, e - b));
      }
  }
  size_t below(size_t n) { return n == 0 ? 0 : size_t(std::uniform_int_distribution<uint64_t>(0, n - 1)(rng)); }
  bool coin(int in) { return below(size_t(in)) == 0; }

  static std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    std::string l;
    while (std::getline(in, l)) v.push_back(l);
    return v;
  }
  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) s += l + "\n";
    return s;
  }

  // Positions of numbers (optionally signed, with '.', 'e') in s.
  static std::vector<std::pair<size_t, size_t>> numbers(const std::string& s) {
    std::vector<std::pair<size_t, size_t>> v;
    for (size_t i = 0; i < s.size();) {
      if (std::isdigit(static_cast<unsigned char>(s[i])) && (i == 0 || !std::isalnum(static_cast<unsigned char>(s[i - 1])))) {
        size_t b = i > 0 && s[i - 1] == '-' ? i - 1 : i, e = i;
        while (e < s.size() && (std::isalnum(static_cast<unsigned char>(s[e])) || s[e] == '.' ||
                                ((s[e] == '-' || s[e] == '+') && (s[e - 1] == 'e' || s[e - 1] == 'E'))))
          ++e;
        v.push_back({b, e});
        i = e;
      } else {
        ++i;
      }
    }
    return v;
  }

  std::string extreme() {
    static const char* k[] = {"0", "-1", "1", "2147483648", "-2147483649", "4294967296", "9223372036854775807",
                              "-9223372036854775808", "9223372036854775808", "18446744073709551616",
                              "99999999999999999999999999", "1e308", "-1e308", "1e309", "1e-320", "nan", "inf", "-inf",
                              "65504", "65520", "256", "-129", "0.5", "-0", "1.0e", "0x10", "1_000"};
    return k[below(sizeof k / sizeof *k)];
  }

  std::string mutate_once(std::string s) {
    static const char kBytes[] = "%[](){}=:,.-+e0123456789\n \t#\"iuxfb_";
    switch (below(15)) {
      case 0:  // flip a bit
        if (!s.empty()) s[below(s.size())] ^= char(1 << below(8));
        break;
      case 1:  // insert a byte
        s.insert(below(s.size() + 1), 1, coin(4) ? char(below(256)) : kBytes[below(sizeof kBytes - 1)]);
        break;
      case 2:  // delete bytes
        if (!s.empty()) {
          size_t p = below(s.size());
          s.erase(p, 1 + below(std::min<size_t>(8, s.size() - p)));
        }
        break;
      case 3:  // duplicate bytes
        if (!s.empty()) {
          size_t p = below(s.size()), n = 1 + below(std::min<size_t>(32, s.size() - p));
          s.insert(p, s.substr(p, n));
        }
        break;
      case 4: {  // delete a line
        auto v = lines(s);
        if (!v.empty()) v.erase(v.begin() + long(below(v.size())));
        s = join(v);
        break;
      }
      case 5: {  // duplicate or swap lines
        auto v = lines(s);
        if (v.empty()) break;
        size_t a = below(v.size()), b = below(v.size());
        if (coin(2)) v.insert(v.begin() + long(b), v[a]);
        else std::swap(v[a], v[b]);
        s = join(v);
        break;
      }
      case 6: {  // splice a line of another seed
        auto v = lines(s);
        auto w = lines(seeds[below(seeds.size())]);
        if (!w.empty()) v.insert(v.begin() + long(below(v.size() + 1)), w[below(w.size())]);
        s = join(v);
        break;
      }
      case 7:
      case 8: {  // a number becomes an extreme value
        auto nums = numbers(s);
        if (nums.empty()) break;
        auto [b, e] = nums[below(nums.size())];
        s.replace(b, e - b, extreme());
        break;
      }
      case 9: {  // a huge shape or many dims in a type
        size_t p = s.find(": ", below(s.size() + 1));
        if (p == std::string::npos) p = s.find(": ");
        if (p == std::string::npos) break;
        size_t open = s.find('[', p), close = s.find(']', p);
        if (open == std::string::npos || close == std::string::npos || close < open) break;
        std::string dims;
        switch (below(4)) {
          case 0: dims = "1099511627776, 1099511627776"; break;
          case 1: dims = "4611686018427387904"; break;
          case 2:
            for (int i = 0; i < 70; ++i) dims += i ? ", 1" : "1";
            break;
          default: dims = "0, " + s.substr(open + 1, close - open - 1); break;
        }
        s.replace(open + 1, close - open - 1, dims);
        break;
      }
      case 10: {  // deep nesting of lists or parentheses
        size_t depth = size_t(1) << below(17);
        char o = coin(2) ? '[' : '(', c = o == '[' ? ']' : ')';
        std::string nest = std::string(depth, o) + "1" + std::string(depth, c);
        s.insert(below(s.size() + 1), nest);
        break;
      }
      case 11:  // truncate
        s.resize(below(s.size() + 1));
        break;
      case 12: {  // another op
        if (ops.empty()) break;
        size_t p = s.find("= ", below(s.size() + 1));
        if (p == std::string::npos) break;
        size_t b = p + 2, e = b;
        while (e < s.size() && (std::isalnum(static_cast<unsigned char>(s[e])) || s[e] == '_')) ++e;
        s.replace(b, e - b, ops[below(ops.size())]);
        break;
      }
      case 13: {  // an attribute list grows or loses its end
        size_t p = s.find('{', below(s.size() + 1));
        if (p == std::string::npos) break;
        if (coin(2)) s.insert(p + 1, "dims = [0, 0, -1, 99], ");
        else s.erase(p + 1, std::min<size_t>(s.size() - p - 1, 1 + below(12)));
        break;
      }
      default: {  // a long chain of ops on one value (kernels split at the size cap)
        size_t p = s.find("%");
        if (p == std::string::npos) break;
        std::string extra;
        int n = int(1 + below(3000));
        for (int i = 0; i < n; ++i) extra += "%f" + std::to_string(i + 1) + " = neg(%f" + std::to_string(i) + ") : f32[2]\n";
        s = "%f0 = input : f32[2] = [1, 2]\n" + extra + s + "output %f" + std::to_string(n) + "\n";
        break;
      }
    }
    return s;
  }

  std::string next() {
    std::string s = seeds[below(seeds.size())];
    int n = 1 + int(below(4));
    for (int i = 0; i < n; ++i) s = mutate_once(std::move(s));
    if (s.size() > (size_t(1) << 22)) s.resize(size_t(1) << 22);
    return s;
  }
};


void save(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

int fuzz_main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: kiln_fuzz_text LIT_DIR CRASHERS_DIR\n";
    return 2;
  }
  install_handlers();
  fs::path lit = argv[1], crashers = argv[2];
  const char* out_env = std::getenv("KILN_FUZZ_OUT");
  fs::path out = out_env && *out_env ? fs::path(out_env) : fs::current_path();
  fs::create_directories(out);
  std::snprintf(g_current, sizeof g_current, "%s", (out / "current.kiln").string().c_str());
  const char* secs_env = std::getenv("KILN_FUZZ_SECONDS");
  double seconds = secs_env && *secs_env ? std::atof(secs_env) : 60;
  const char* seed_env = std::getenv("KILN_FUZZ_SEED");
  uint64_t seed = 1;
  if (seed_env && std::string(seed_env) == "time") seed = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  else if (seed_env && *seed_env) seed = std::strtoull(seed_env, nullptr, 10);
  const char* hang_env = std::getenv("KILN_FUZZ_HANG");
  if (hang_env && *hang_env) g_hang_seconds = std::max(1, std::atoi(hang_env));
  // Relative .npy paths resolve in an empty folder (they name no real file).
  fs::path base = out / "fuzz-base";
  fs::create_directories(base);

  Stats st;
  int failures = 0;
  auto run_one = [&](const std::string& text, uint64_t s, const std::string& label) {
    save(g_current, text);
    alarm(unsigned(g_hang_seconds));
    std::string why = try_input(text, base.string(), s, st);
    alarm(0);
    if (why.empty()) return;
    ++failures;
    std::string keep = (out / ("failure-" + std::to_string(failures) + ".kiln")).string();
    save(keep, text);
    std::cerr << "kiln_fuzz_text: FAIL on " << label << ": " << why << "\n  input saved at " << keep
              << "\n  keep it: cp " << keep << " test/hostile/crashers/NAME.kiln\n";
  };

  // 1. The crashers: every one must now parse and run or raise kiln::Error.
  auto kept = files_in(crashers, ".kiln");
  for (const fs::path& p : kept) run_one(read_file(p), 0, p.string());
  std::cout << "kiln_fuzz_text: replayed " << kept.size() << " saved input(s) of " << crashers.string() << "\n";

  // 2. The seeds, as they are, then mutated until the time is up.
  std::vector<std::string> seeds;
  for (const fs::path& p : files_in(lit, ".kiln"))
    for (std::string& g : graphs_of(read_file(p))) seeds.push_back(std::move(g));
  for (const fs::path& p : kept) seeds.push_back(read_file(p));
  if (seeds.empty()) {
    std::cerr << "kiln_fuzz_text: no seeds in " << lit.string() << "\n";
    return 2;
  }
  if (seconds > 0)
    for (size_t i = 0; i < seeds.size(); ++i) run_one(seeds[i], i, "seed " + std::to_string(i));
  Mutator m(seed, seeds);
  auto t0 = std::chrono::steady_clock::now();
  int64_t rounds = 0;
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < seconds) {
    std::string text = m.next();
    run_one(text, uint64_t(rounds), "round " + std::to_string(rounds) + " (KILN_FUZZ_SEED=" + std::to_string(seed) + ")");
    ++rounds;
  }
  std::cout << "kiln_fuzz_text: seed " << seed << ", " << seeds.size() << " seeds, " << rounds << " mutated inputs in "
            << seconds << " s: " << st.parsed << " of " << st.inputs << " parsed, " << st.ran << " ran, "
            << st.skipped_large << " too large to run, " << st.kiln_errors << " kiln::Error, " << failures
            << " failures\n";
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Like kilnc: graph walks recurse once per level of the graph.
  return kiln::run_with_big_stack([&] { return fuzz_main(argc, argv); });
}
