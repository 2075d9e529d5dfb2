// kiln_hostile: runs the hostile-input table (cases.cpp), each case in a
// forked child with a time limit, and prints one row per case:
//   case | expected | got | PASS / XFAIL / FAIL(why)
// then a summary. Exits non-zero when a case not marked as a known failure
// fails, or when a marked one passes (XPASS: remove its mark).
//
//   kiln_hostile [--filter S] [--timeout SECONDS] [--jobs N] [--list] [-v]
//   KILN_HOSTILE_TIMEOUT   per-case time limit in seconds (default 20)
//   KILN_HOSTILE_MEM_MB    address-space limit of each child (default 8192;
//                          0: none), so a runaway allocation fails, not the
//                          machine (none under a sanitizer)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>

#include "harness.h"

namespace hostile {

namespace {

std::string num(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string shape_text(const kiln::Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool close(double got, double want, double tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= tol * std::max(1.0, std::fabs(want));
}

// Whether message m names op: "op:" at the start or after a space.
bool names_op(const std::string& m, const std::string& op) {
  std::string key = op + ":";
  for (size_t p = m.find(key); p != std::string::npos; p = m.find(key, p + 1))
    if (p == 0 || m[p - 1] == ' ' || m[p - 1] == '\n') return true;
  return false;
}

// Whether lower-cased m contains one of the '|'-separated alternatives of w.
bool has_words(const std::string& m, const std::string& w) {
  size_t start = 0;
  while (true) {
    size_t bar = w.find('|', start);
    if (m.find(lower(w.substr(start, bar == std::string::npos ? std::string::npos : bar - start))) != std::string::npos)
      return true;
    if (bar == std::string::npos) return false;
    start = bar + 1;
  }
}

}  // namespace

Val::Val(const kiln::Tensor& t) {
  dtype = std::string(kiln::name(t.dtype()));
  shape = t.shape();
  numel = t.numel();
  if (numel <= 64) values = t.to(kiln::kFloat64).contiguous().to_vector<double>();
  else t.realize();
}

Val::Val(std::tuple<kiln::Tensor, kiln::Tensor> vi) : Val(std::get<0>(vi)) {}

std::string Val::str() const {
  std::string s;
  if (dtype) s += *dtype;
  if (shape) s += shape_text(*shape);
  if (values) {
    if (!s.empty()) s += " ";
    bool brace = values->size() != 1 || (shape && !shape->empty());
    s += brace ? "{" : "";
    for (size_t i = 0; i < values->size(); ++i) s += (i ? ", " : "") + num((*values)[i]);
    s += brace ? "}" : "";
  } else if (numel >= 0) {
    s += " (" + std::to_string(numel) + " values)";
  }
  return s.empty() ? "(nothing)" : s;
}

std::string Expect::str() const {
  switch (kind) {
    case Kind::Error: {
      std::string s = op.empty() ? "Error:" : "Error " + op + ":";
      for (const std::string& w : words) s += " '" + w + "'";
      return s;
    }
    case Kind::Below: return "all < " + num(tol);
    case Kind::AtLeast: return "all >= " + num(tol);
    case Kind::Value: break;
  }
  return val.str();
}

std::pair<std::string, std::string> evaluate(const Case& c) {
  Val got;
  try {
    got = c.run();
  } catch (const kiln::Error& e) {
    std::string m = e.what();
    if (c.expect.kind != Expect::Kind::Error) return {"UNEXPECTED_ERROR", "Error: " + m};
    if (!c.expect.op.empty() && !names_op(m, c.expect.op)) return {"WRONG_MESSAGE", "Error: " + m};
    for (const std::string& w : c.expect.words)
      if (!has_words(lower(m), w)) return {"WRONG_MESSAGE", "Error: " + m};
    return {"PASS", "Error: " + m};
  } catch (const std::exception& e) {
    return {"FOREIGN_EXCEPTION", std::string("std::exception: ") + e.what()};
  } catch (...) {
    return {"FOREIGN_EXCEPTION", "an exception of unknown type"};
  }
  const Expect& x = c.expect;
  std::string g = got.str();
  switch (x.kind) {
    case Expect::Kind::Error: return {"NO_ERROR", g};
    case Expect::Kind::Below:
    case Expect::Kind::AtLeast: {
      if (!got.values || got.values->empty()) return {"WRONG_VALUE", g};
      for (double v : *got.values)
        if (x.kind == Expect::Kind::Below ? !(v < x.tol) : !(v >= x.tol)) return {"WRONG_VALUE", g};
      return {"PASS", g};
    }
    case Expect::Kind::Value: break;
  }
  bool ok = true;
  if (x.val.dtype) ok &= got.dtype == x.val.dtype;
  if (x.val.shape) ok &= got.shape == x.val.shape;
  if (x.val.values) {
    ok &= got.values.has_value() && got.values->size() == x.val.values->size();
    for (size_t i = 0; ok && i < x.val.values->size(); ++i) ok &= close((*got.values)[i], (*x.val.values)[i], x.tol);
  }
  return {ok ? "PASS" : "WRONG_VALUE", g};
}

}  // namespace hostile

namespace {

using hostile::Case;

struct Outcome {
  std::string status;  // PASS, CRASH, HANG or an evaluate() status
  std::string got;
  double seconds = 0;
};

struct Running {
  pid_t pid;
  int fd;  // the read end of the child's report pipe
  size_t index;
  std::chrono::steady_clock::time_point start;
  int limit_s;
  std::string report;
};

// In the child: run the case, write "STATUS\nGOT" to fd, exit.
[[noreturn]] void child(const Case& c, int fd, long mem_mb) {
  if (mem_mb > 0) {
    rlimit r{rlim_t(mem_mb) << 20, rlim_t(mem_mb) << 20};
    setrlimit(RLIMIT_AS, &r);
  }
  rlimit core{0, 0};
  setrlimit(RLIMIT_CORE, &core);
  auto [status, got] = hostile::evaluate(c);
  std::string msg = status + "\n" + got;
  const char* p = msg.data();
  size_t left = msg.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n <= 0) break;
    p += n;
    left -= size_t(n);
  }
  close(fd);
  std::fflush(nullptr);
  _exit(0);  // skip static destructors: the case may have left kiln in any state
}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGFPE: return "SIGFPE";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    case SIGTRAP: return "SIGTRAP";
    default: return "signal " + std::to_string(sig);
  }
}

std::string clip(std::string s, size_t n) {
  for (char& ch : s)
    if (ch == '\n' || ch == '\t') ch = ' ';
  if (s.size() > n) s = s.substr(0, n - 3) + "...";
  return s;
}

long env_long(const char* name, long dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 10) : dflt;
}

}  // namespace

int main(int argc, char** argv) {
  std::string filter;
  long timeout_s = env_long("KILN_HOSTILE_TIMEOUT", 20);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's runtime reserves terabytes of address space for its shadow
  // memory: no address-space limit under it.
  long mem_mb = env_long("KILN_HOSTILE_MEM_MB", 0);
#else
  long mem_mb = env_long("KILN_HOSTILE_MEM_MB", 8192);
#endif
  long jobs = 2;
  bool list = false, verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "kiln_hostile: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--filter") filter = value();
    else if (a == "--timeout") timeout_s = std::strtol(value().c_str(), nullptr, 10);
    else if (a == "--jobs" || a == "-j") jobs = std::max(1L, std::strtol(value().c_str(), nullptr, 10));
    else if (a == "--list") list = true;
    else if (a == "-v") verbose = true;
    else {
      std::cerr << "usage: kiln_hostile [--filter S] [--timeout SECONDS] [--jobs N] [--list] [-v]\n";
      return 2;
    }
  }

  // The parent never calls kiln: each child starts from a fresh copy of
  // this process (no kiln threads exist yet to be lost in the fork).
  std::vector<Case> all = hostile::all_cases();
  std::vector<Case> cases;
  for (Case& c : all)
    if (filter.empty() || (c.group + "/" + c.name).find(filter) != std::string::npos) cases.push_back(std::move(c));
  if (list) {
    for (const Case& c : cases) std::cout << c.group << "/" << c.name << "\n";
    return 0;
  }
  if (cases.empty()) {
    std::cerr << "kiln_hostile: no case matches '" << filter << "'\n";
    return 2;
  }

  std::vector<Outcome> out(cases.size());
  std::vector<Running> running;
  size_t next = 0;
  signal(SIGPIPE, SIG_IGN);
  while (next < cases.size() || !running.empty()) {
    while (next < cases.size() && long(running.size()) < jobs) {
      int fds[2];
      if (pipe(fds) != 0) {
        std::perror("pipe");
        return 2;
      }
      std::fflush(nullptr);
      pid_t pid = fork();
      if (pid < 0) {
        std::perror("fork");
        return 2;
      }
      if (pid == 0) {
        close(fds[0]);
        child(cases[next], fds[1], mem_mb);
      }
      close(fds[1]);
      fcntl(fds[0], F_SETFL, O_NONBLOCK);
      int limit = cases[next].timeout_s > 0 ? int(std::min<long>(cases[next].timeout_s, timeout_s)) : int(timeout_s);
      running.push_back({pid, fds[0], next, std::chrono::steady_clock::now(), limit, ""});
      ++next;
    }
    std::vector<pollfd> pfds;
    for (const Running& r : running) pfds.push_back({r.fd, POLLIN, 0});
    poll(pfds.data(), pfds.size(), 50);
    for (size_t k = 0; k < running.size();) {
      Running& r = running[k];
      char buf[4096];
      ssize_t n;
      bool eof = false;
      while ((n = read(r.fd, buf, sizeof buf)) > 0) r.report.append(buf, size_t(n));
      if (n == 0) eof = true;
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
      Outcome& o = out[r.index];
      int wstatus = 0;
      pid_t done = eof ? waitpid(r.pid, &wstatus, 0) : waitpid(r.pid, &wstatus, WNOHANG);
      if (done == 0 && secs > r.limit_s) {
        kill(r.pid, SIGKILL);
        waitpid(r.pid, &wstatus, 0);
        o = {"HANG", "no answer in " + std::to_string(r.limit_s) + " s", secs};
      } else if (done == r.pid) {
        while ((n = read(r.fd, buf, sizeof buf)) > 0) r.report.append(buf, size_t(n));
        if (WIFSIGNALED(wstatus)) {
          o = {"CRASH", signal_name(WTERMSIG(wstatus)), secs};
        } else if (size_t nl = r.report.find('\n'); nl != std::string::npos) {
          o = {r.report.substr(0, nl), r.report.substr(nl + 1), secs};
        } else {
          o = {"CRASH", "exit status " + std::to_string(WEXITSTATUS(wstatus)) + " without a report", secs};
        }
      } else {
        ++k;
        continue;
      }
      close(r.fd);
      running.erase(running.begin() + long(k));
    }
  }

  // The table.
  std::map<std::string, int> failures;  // by status, marked or not
  int unexpected = 0, xfail = 0, xpass = 0, pass = 0;
  std::map<std::string, std::pair<int, int>> by_group;  // passing, total
  size_t wname = 4;
  for (const Case& c : cases) wname = std::max(wname, c.group.size() + 1 + c.name.size());
  wname = std::min<size_t>(wname, 44);
  const int wcol = verbose ? 1000 : 56;
  std::printf("%-*s | %-*s | %-*s | %s\n", int(wname), "case", std::min(wcol, 56), "expected", std::min(wcol, 56),
              "got", "result");
  std::vector<std::string> xfails, fails;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const Outcome& o = out[i];
    bool ok = o.status == "PASS";
    std::string result, id = c.group + "/" + c.name;
    std::string detail = id + ": " + o.status + "\n    expected: " + c.expect.str() + "\n    got:      " + o.got;
    if (c.known_failure.empty()) {
      result = ok ? "PASS" : "FAIL(" + o.status + ")";
      if (ok) ++pass;
      else ++unexpected, fails.push_back(detail);
    } else if (ok) {
      result = "XPASS: passes now, remove its known_failure";
      ++xpass;
      fails.push_back(id + ": XPASS (remove its known_failure: " + c.known_failure + ")");
    } else {
      result = "XFAIL(" + o.status + ") " + c.known_failure;
      ++xfail;
      xfails.push_back(detail + "\n    " + c.known_failure);
    }
    if (!ok) ++failures[o.status];
    auto& g = by_group[c.group];
    g.second++;
    if (ok) g.first++;
    char secs[32] = "";
    if (o.seconds > 2) std::snprintf(secs, sizeof secs, " [%.1f s]", o.seconds);
    std::printf("%-*s | %-*s | %-*s | %s%s\n", int(wname), clip(id, wname).c_str(), std::min(wcol, 56),
                clip(c.expect.str(), size_t(wcol)).c_str(), std::min(wcol, 56), clip(o.got, size_t(wcol)).c_str(),
                result.c_str(), secs);
  }

  std::printf("\nby group (passing / cases):");
  for (auto& [g, pt] : by_group) std::printf(" %s %d/%d,", g.c_str(), pt.first, pt.second);
  int wrong_msg = failures["WRONG_MESSAGE"] + failures["FOREIGN_EXCEPTION"];
  int wrong_answer = failures["WRONG_VALUE"] + failures["NO_ERROR"] + failures["UNEXPECTED_ERROR"];
  std::printf("\n%zu cases: %d pass, %d xfail (known failures), %d xpass, %d unexpected failures\n", cases.size(), pass,
              xfail, xpass, unexpected);
  std::printf("failing (marked or not): %d crashes, %d hangs, %d wrong answers (%d no error, %d unexpected error, "
              "%d wrong value), %d unclear errors (%d wrong message, %d not a kiln::Error)\n",
              failures["CRASH"], failures["HANG"], wrong_answer, failures["NO_ERROR"], failures["UNEXPECTED_ERROR"],
              failures["WRONG_VALUE"], wrong_msg, failures["WRONG_MESSAGE"], failures["FOREIGN_EXCEPTION"]);
  if (!xfails.empty() && verbose) {
    std::printf("\nknown failures:\n");
    for (const std::string& s : xfails) std::printf("  %s\n", s.c_str());
  }
  if (!fails.empty()) {
    std::printf("\nFAILED:\n");
    for (const std::string& s : fails) std::printf("  %s\n", s.c_str());
    return 1;
  }
  return 0;
}
