// kilnc: reads a graph in kiln's textual IR (.kiln) and prints any stage of
// its compilation, or runs it. See `kilnc --help` and lib/text/parser.h.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <map>
#include <random>
#include <sstream>
#include <unordered_set>

#include "autodiff/autodiff.h"
#include "graph/builders.h"
#include "kiln/kiln.h"
#include "passes/passes.h"
#include "runtime/big_stack.h"
#include "runtime/buffer.h"
#include "schedule/schedule.h"
#include "kernel_file.h"
#include "targets.h"
#include "tensor/tensor_impl.h"
#include "text/npy.h"
#include "text/parser.h"
#include "text/printer.h"

namespace kilnc {

using kiln::Error;
using kiln::Node;
using kiln::NodeRef;
using kiln::Op;
using kiln::text::NameMap;

// A user error kilnc reports as one line: "kilnc: error: ...".
struct UsageError : Error {
  using Error::Error;
};

const char* kUsage = R"(usage: kilnc FILE [options]
       kilnc --kernel FILE [--seed=N] [--emit=kernel|STAGE] [-o FILE]

Reads a graph in kiln's textual IR (FILE '-' reads stdin) and prints stages
of its compilation, or runs it. With no --emit, --run or --time: --emit=graph.

  --emit=STAGE[,STAGE...]  print these stages (in pipeline order; with several,
                           each follows a header line):
      graph          the parsed graph, as canonical .kiln text
      grad           the gradient graph (see --grad, --wrt), as .kiln text
      passes         the graph after each of kiln's passes that changes it
                     (fold, pack-contraction, cse), each under a line
                     "# after PASS"
      optimized      the graph after kiln's passes (exact folding, view
                     folding, contraction packing, CSE): what the scheduler
                     sees
      schedule       the kernels: what each reads, writes and computes, and
                     why each written value gets a buffer
      kernel         the Kernel IR of every kernel
{}
  --target=NAME            the target of the target stages and of --run:
{}
  --grad=%y[:%g][,...]     differentiate these outputs (default: every output),
                           seeded with ones (the gradient of their sum) or with
                           the value %g of the file
  --wrt=%x[,...]           ... with respect to these inputs (default: every
                           floating-point input the outputs depend on)
                           With --grad, --wrt or --emit=grad the program
                           becomes the gradients, named %x.grad: the later
                           stages and --run compile them.
  --run                    compute the outputs and print them (PyTorch's format)
  --time                   run, and report (on stderr) the time of parsing and
                           of each kernel's compilation and run
  --seed=N                 inputs without data get random values from seed N
                           (default 0): floats in [0, 1), integers in 0..9
  --input=%x=FILE.npy      take input %x from an .npy file (repeatable)
  --inline-limit=N         printed graphs show the data of inputs with at most
                           N elements (default 32)
  --kernel                 FILE holds Kernel IR kernels with launch lines (see
                           below): run each on every backend that can run
                           here and compare with the reference evaluator; with
                           --emit=kernel or a target stage, print them instead
  -o FILE                  write to FILE instead of stdout
  -h, --help               this text

The % of value names may be left out on the command line (--wrt=x), which
spares lit's % substitutions.

Examples:
  kilnc model.kiln --emit=schedule
  kilnc model.kiln --emit=kernel,llvm
  kilnc model.kiln --grad=%loss --wrt=%w --emit=grad
  kilnc model.kiln --run --seed=1
  kilnc model.kiln --run --input=%x=x.npy --time
  kilnc model.kiln --emit=graph | kilnc - --emit=graph
  kilnc --kernel test/kernel/elementwise.kir

{}
)";

std::string usage() {
  std::string stages, target_list;
  for (const Target& t : targets()) {
    stages += fmt::format("    {} target stages:\n", t.name);
    for (const Stage& s : t.stages) stages += fmt::format("      {:<14} {}\n", s.name, s.help);
    target_list += fmt::format("      {:<14} {}{}\n", t.name, t.help, &t == &targets()[0] ? " (default)" : "");
  }
  stages.pop_back();
  target_list.pop_back();
  return fmt::format(fmt::runtime(kUsage), stages, target_list, kKernelUsage);
}

// ---------------------------------------------------------------------------
// Options

struct Options {
  std::string file;
  std::vector<std::string> emit;
  std::string target = "cpu";
  bool grad = false;                                   // --grad or --wrt given
  std::vector<std::pair<std::string, std::string>> grad_of;  // output, seed ("" = ones)
  std::vector<std::string> wrt;
  bool run = false, time = false;
  bool kernel = false;  // FILE is a kernel file (kernel_file.h)
  uint64_t seed = 0;
  std::map<std::string, std::string> input_files;
  int64_t inline_limit = 32;
  std::string out_file;
  bool help = false;
};

const std::vector<std::string> kNeutralStages = {"graph", "grad", "passes", "optimized", "schedule", "kernel"};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::stringstream ss(s);
  while (std::getline(ss, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

// "%x" or "x" -> "x".
std::string value_name(const std::string& s, const std::string& option) {
  std::string n = !s.empty() && s[0] == '%' ? s.substr(1) : s;
  bool ok = !n.empty();
  for (char c : n) ok &= std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  if (!ok) throw UsageError(fmt::format("{}: '{}' is not a value name (like %x)", option, s));
  return n;
}

int64_t integer_option(const std::string& v, const std::string& option, int64_t lo) {
  try {
    size_t used = 0;
    long long x = std::stoll(v, &used);
    if (used == v.size() && x >= lo) return x;
  } catch (const std::exception&) {
  }
  throw UsageError(fmt::format("{}: expected an integer >= {}, got '{}'", option, lo, v));
}

Options parse_args(int argc, char** argv) {
  Options o;
  bool have_file = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
      return o;
    }
    if (a == "-" || a.empty() || a[0] != '-') {
      if (have_file) throw UsageError(fmt::format("more than one input file ('{}' and '{}')", o.file, a));
      o.file = a;
      have_file = true;
      continue;
    }
    // --name=value, or --name value for options that take one.
    std::string name = a, value;
    bool has_value = false;
    if (size_t eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    static const std::unordered_set<std::string> with_value = {"--emit", "--target", "--grad",  "--wrt",
                                                               "--seed", "--input",  "--inline-limit", "-o"};
    static const std::unordered_set<std::string> flags = {"--run", "--time", "--kernel"};
    if (with_value.count(name)) {
      if (!has_value) {
        if (i + 1 >= argc) throw UsageError(fmt::format("option '{}' needs a value", name));
        value = argv[++i];
      }
    } else if (flags.count(name)) {
      if (has_value) throw UsageError(fmt::format("option '{}' takes no value", name));
    } else {
      throw UsageError(fmt::format("unknown option '{}' (see kilnc --help)", a));
    }
    if (name == "--emit") {
      for (const std::string& s : split(value, ',')) o.emit.push_back(s);
    } else if (name == "--target") {
      o.target = value;
    } else if (name == "--grad") {
      o.grad = true;
      for (const std::string& s : split(value, ',')) {
        size_t colon = s.find(':');
        o.grad_of.push_back({value_name(s.substr(0, colon), "--grad"),
                             colon == std::string::npos ? "" : value_name(s.substr(colon + 1), "--grad")});
      }
    } else if (name == "--wrt") {
      o.grad = true;
      for (const std::string& s : split(value, ',')) o.wrt.push_back(value_name(s, "--wrt"));
    } else if (name == "--seed") {
      o.seed = uint64_t(integer_option(value, "--seed", 0));
    } else if (name == "--input") {
      size_t eq = value.find('=');
      if (eq == std::string::npos || eq + 1 == value.size())
        throw UsageError(fmt::format("--input: expected %name=FILE.npy, got '{}'", value));
      o.input_files[value_name(value.substr(0, eq), "--input")] = value.substr(eq + 1);
    } else if (name == "--inline-limit") {
      o.inline_limit = integer_option(value, "--inline-limit", 0);
    } else if (name == "-o") {
      o.out_file = value;
    } else if (name == "--run") {
      o.run = true;
    } else if (name == "--time") {
      o.time = true;
    } else if (name == "--kernel") {
      o.kernel = true;
    }
  }
  if (!have_file) throw UsageError("no input file (see kilnc --help)");
  if (o.kernel) {
    if (o.grad || o.run || o.time || !o.input_files.empty())
      throw UsageError("--kernel runs a kernel file: --grad, --wrt, --run, --time and --input do not apply");
    for (const std::string& s : o.emit) {
      bool ok = s == "kernel";
      for (const Target& t : targets())
        for (const Stage& st : t.stages) ok |= st.name == s && t.name == targets()[0].name;
      if (!ok) throw UsageError(fmt::format("--kernel --emit: '{}' is not kernel or a stage of target '{}'", s,
                                            targets()[0].name));
    }
    return o;
  }

  const Target* target = find_target(o.target);
  if (!target) {
    std::string names;
    for (const Target& t : targets()) names += (names.empty() ? "" : ", ") + t.name;
    throw UsageError(fmt::format("unknown target '{}' (targets: {})", o.target, names));
  }
  for (const std::string& s : o.emit) {
    bool neutral = std::count(kNeutralStages.begin(), kNeutralStages.end(), s) > 0;
    bool ours = std::any_of(target->stages.begin(), target->stages.end(), [&](const Stage& st) { return st.name == s; });
    if (neutral || ours) continue;
    for (const Target& t : targets())
      for (const Stage& st : t.stages)
        if (st.name == s)
          throw UsageError(fmt::format("stage '{}' belongs to target '{}', not '{}' (use --target={})", s, t.name,
                                       o.target, t.name));
    throw UsageError(fmt::format("unknown stage '{}' (see kilnc --help)", s));
  }
  if (std::count(o.emit.begin(), o.emit.end(), "grad") && !o.grad) o.grad = true;
  if (o.emit.empty() && !o.run && !o.time) o.emit.push_back("graph");
  return o;
}

// ---------------------------------------------------------------------------
// Inputs

std::string read_source(const std::string& file) {
  if (file == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) throw UsageError(fmt::format("'{}' is a directory", file));
  std::ifstream f(file, std::ios::binary);
  if (!f) throw UsageError(fmt::format("cannot open '{}': {}", file, std::strerror(errno)));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}


// ---------------------------------------------------------------------------
// The program: the graph to compile (the file's outputs, or their gradients)

struct Program {
  std::vector<NodeRef> outputs;
  std::vector<NodeRef> inputs;  // declared first when printed
  NameMap names;
};

std::string names_list(const std::vector<std::string>& v) {
  std::string s;
  for (auto& n : v) s += (s.empty() ? "%" : ", %") + n;
  return s;
}

// The declared inputs `outputs` use, in declaration order.
std::vector<NodeRef> used_inputs(const std::vector<NodeRef>& outputs, const std::vector<NodeRef>& declared) {
  std::unordered_set<const Node*> seen;
  std::vector<const Node*> stack;
  for (const NodeRef& o : outputs) stack.push_back(o.get());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second || n->realized()) continue;
    for (const NodeRef& x : n->inputs) stack.push_back(x.get());
  }
  std::vector<NodeRef> used;
  for (const NodeRef& n : declared)
    if (seen.count(n.get())) used.push_back(n);
  return used;
}

Program gradients(const Options& o, const kiln::text::Parsed& p) {
  auto lookup = [&](const std::string& n, const char* option) {
    auto it = p.values.find(n);
    if (it == p.values.end()) throw UsageError(fmt::format("{}: the file defines no value '%{}'", option, n));
    return it->second;
  };
  std::vector<NodeRef> outs, seeds;
  if (o.grad_of.empty()) {
    outs = p.outputs;
    for (const NodeRef& n : outs) seeds.push_back(kiln::graph::full(1, n->dtype, n->shape));
  }
  for (auto& [name, seed] : o.grad_of) {
    NodeRef n = lookup(name, "--grad");
    outs.push_back(n);
    if (seed.empty()) {
      seeds.push_back(kiln::graph::full(1, n->dtype, n->shape));
    } else {
      NodeRef g = lookup(seed, "--grad");
      if (g->shape != n->shape)
        throw UsageError(fmt::format("--grad: the seed %{} has shape {}, but %{} has shape {}", seed,
                                     kiln::shape_str(g->shape), name, kiln::shape_str(n->shape)));
      seeds.push_back(g);
    }
  }
  bool prev = kiln::grad_mode_enabled();
  kiln::set_grad_mode_enabled(false);  // plain gradient nodes
  auto grads = kiln::autodiff::gradients(outs, seeds);
  kiln::set_grad_mode_enabled(prev);

  Program prog;
  prog.inputs = p.inputs;
  prog.names = p.names;
  std::vector<std::string> wrt = o.wrt;
  bool explicit_wrt = !wrt.empty();
  if (!explicit_wrt)
    for (const auto& d : p.input_decls)
      if (kiln::is_floating(d.dtype)) wrt.push_back(d.name);
  for (const std::string& name : wrt) {
    NodeRef x = lookup(name, "--wrt");
    auto it = grads.find(x.get());
    if (it == grads.end()) {
      if (!explicit_wrt) continue;
      throw UsageError(
          kiln::is_floating(x->dtype)
              ? fmt::format("--wrt: no gradient reaches %{}: the differentiated outputs do not depend on it", name)
              : fmt::format("--wrt: %{} is {}, not floating point: it has no gradient", name, kiln::name(x->dtype)));
    }
    NodeRef g = it->second;
    if (!prog.names.count(g.get()) || !kiln::text::is_input(*g)) prog.names[g.get()] = name + ".grad";
    prog.outputs.push_back(g);
  }
  if (prog.outputs.empty())
    throw UsageError("no gradients: the outputs depend on no floating-point input (name them with --wrt=%x)");
  prog.inputs = used_inputs(prog.outputs, p.inputs);
  return prog;
}

// ---------------------------------------------------------------------------
// Running

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// The value checks the C++ API makes at the call (kiln::text::check_data),
// reported at the line that defined the op.
void check_data(const std::vector<NodeRef>& outputs, const kiln::text::Parsed& p, const std::string& file) {
  kiln::text::DataError e = kiln::text::check_data(outputs);
  if (e.message.empty()) return;
  auto line = p.lines.find(e.op.get());
  if (line != p.lines.end()) throw Error(fmt::format("{}:{}: {}", file, line->second, e.message));
  throw Error(e.message);
}

// ---------------------------------------------------------------------------

int main_(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  if (o.help) {
    std::cout << usage();
    return std::cout ? 0 : 1;
  }
  if (o.time) {
    // kiln reports each kernel's compile and run time at debug level 1.
    const char* level = std::getenv("KILN_DEBUG");
    if (!level || std::atoi(level) < 1) setenv("KILN_DEBUG", "1", 1);
  }
  if (o.kernel) {
    std::ofstream kernel_out;
    if (!o.out_file.empty()) {
      kernel_out.open(o.out_file, std::ios::binary);
      if (!kernel_out) throw UsageError(fmt::format("cannot write '{}': {}", o.out_file, std::strerror(errno)));
    }
    std::ostream& out = o.out_file.empty() ? std::cout : kernel_out;
    KernelFileOptions ko;
    ko.file = o.file == "-" ? "<stdin>" : o.file;
    ko.seed = o.seed;
    ko.emit = o.emit;
    int status = run_kernel_file(read_source(o.file), ko, out);
    out.flush();
    if (!out) throw Error("write error on the output");
    return status;
  }
  const Target& target = *find_target(o.target);
  // Fails now for targets without a backend (before any work).
  std::unique_ptr<Backend> backend = target.make();

  std::ofstream file_out;
  if (!o.out_file.empty()) {
    file_out.open(o.out_file, std::ios::binary);
    if (!file_out) throw UsageError(fmt::format("cannot write '{}': {}", o.out_file, std::strerror(errno)));
  }
  std::ostream& out = o.out_file.empty() ? std::cout : file_out;

  auto t0 = std::chrono::steady_clock::now();
  std::string source = read_source(o.file);
  std::string shown = o.file == "-" ? "<stdin>" : o.file;
  kiln::text::ParseOptions popt;
  popt.filename = shown;
  if (o.file != "-") popt.base_dir = std::filesystem::path(o.file).parent_path().string();
  std::mt19937_64 rng(o.seed);
  bool running = o.run || o.time;
  std::unordered_set<std::string> used_files;
  popt.input_data = [&](const kiln::text::InputDecl& d) -> std::shared_ptr<kiln::Buffer> {
    if (auto it = o.input_files.find(d.name); it != o.input_files.end()) {
      used_files.insert(d.name);
      kiln::text::NpyArray a = kiln::text::read_npy(it->second);
      if (a.dtype != d.dtype || a.shape != d.shape)
        throw Error(fmt::format("--input: '{}' holds {}, but %{} is declared {}", it->second,
                                kiln::text::type_str(a.dtype, a.shape), d.name, kiln::text::type_str(d.dtype, d.shape)));
      return a.data;
    }
    if (running && !d.has_data) return kiln::text::random_input(d, rng);
    return nullptr;
  };
  if (o.grad) {
    // Inputs that require grad: the --wrt ones, or every floating one.
    popt.requires_grad = [&](const kiln::text::InputDecl& d) {
      if (o.wrt.empty()) return kiln::is_floating(d.dtype);
      return std::count(o.wrt.begin(), o.wrt.end(), d.name) > 0;
    };
  }
  // The whole file is checked before any input is filled or read: a syntax
  // error on line 2 is reported at once, not after filling a 1 GB input.
  if (running || !o.input_files.empty()) {
    kiln::text::ParseOptions check = popt;
    check.input_data = nullptr;
    kiln::text::parse(source, check);
  }
  kiln::text::Parsed parsed = kiln::text::parse(source, popt);
  for (auto& [name, path] : o.input_files)
    if (!used_files.count(name)) throw UsageError(fmt::format("--input: '{}' declares no input '%{}'", shown, name));
  for (const std::string& w : o.wrt) {
    auto it = parsed.values.find(w);
    if (it == parsed.values.end())
      throw UsageError(fmt::format("--wrt: '{}' defines no value '%{}'", shown, w));
    if (!it->second->grad_leaf)
      throw UsageError(fmt::format("--wrt: %{} is not an input (gradients are taken with respect to inputs)", w));
  }
  double parse_ms = ms_since(t0);

  Program prog;
  prog.outputs = parsed.outputs;
  prog.inputs = parsed.inputs;
  prog.names = parsed.names;
  if (o.grad) prog = gradients(o, parsed);

  // Names of the program's nodes, as its printed graph shows them.
  auto print = [&](const Program& p, NameMap* assigned = nullptr) {
    kiln::text::PrintOptions po;
    po.names = &p.names;
    po.inputs = p.inputs;
    po.inline_limit = o.inline_limit;
    po.assigned = assigned;
    return kiln::text::print(p.outputs, po);
  };

  // Later stages: optimized graph, schedule (computed once, on demand).
  std::optional<Program> optimized;
  std::optional<kiln::Schedule> schedule;
  auto get_optimized = [&]() -> const Program& {
    if (!optimized) {
      NameMap before = prog.names;
      print(prog, &before);
      Program p;
      p.outputs = kiln::passes::optimize(prog.outputs);
      p.inputs = used_inputs(p.outputs, prog.inputs);
      p.names = kiln::text::carry_names(prog.outputs, before, p.outputs);
      // Everything gets its final name here (numbers for the rest).
      NameMap all;
      print(p, &all);
      for (auto& [n, name] : all) p.names[n] = name;
      optimized = std::move(p);
    }
    return *optimized;
  };
  // Each pass that changes the graph, names carried from the graph before it.
  auto print_passes = [&]() {
    NameMap names = prog.names;
    print(prog, &names);
    // Every printed graph stays alive: `names` is keyed by address, and a
    // freed node's address may come back as a new node.
    std::vector<std::vector<NodeRef>> printed = {prog.outputs};
    std::string s;
    kiln::passes::optimize(prog.outputs, [&](const char* pass, const std::vector<NodeRef>& after) {
      Program p;
      p.outputs = after;
      p.inputs = used_inputs(after, prog.inputs);
      p.names = kiln::text::carry_names(printed.back(), names, after);
      NameMap all;
      s += fmt::format("# after {}\n{}", pass, print(p, &all));
      names = std::move(p.names);
      for (auto& [n, name] : all) names[n] = name;
      printed.push_back(after);
    });
    return s.empty() ? std::string("# no pass changes the graph\n") : s;
  };
  auto get_schedule = [&]() -> const kiln::Schedule& {
    if (!schedule) schedule = kiln::make_schedule(get_optimized().outputs);
    return *schedule;
  };

  // Stages in pipeline order.
  std::vector<std::string> order = kNeutralStages;
  for (const Stage& s : target.stages) order.push_back(s.name);
  std::vector<std::string> stages;
  for (const std::string& s : order)
    if (std::count(o.emit.begin(), o.emit.end(), s)) stages.push_back(s);
  for (const std::string& stage : stages) {
    std::string comment = "#";
    for (const Stage& s : target.stages)
      if (s.name == stage) comment = s.comment;
    if (stages.size() > 1) out << fmt::format("{} ==== {}\n", comment, stage);
    if (stage == "graph") {
      Program p;
      p.outputs = parsed.outputs;
      p.inputs = parsed.inputs;
      p.names = parsed.names;
      out << print(p);
    } else if (stage == "grad") {
      out << print(prog);
    } else if (stage == "passes") {
      out << print_passes();
    } else if (stage == "optimized") {
      out << print(get_optimized());
    } else if (stage == "schedule") {
      out << kiln::text::schedule_str(get_schedule(), get_optimized().outputs, get_optimized().names);
    } else {
      const kiln::Schedule& s = get_schedule();
      for (size_t k = 0; k < s.kernels.size(); ++k) {
        const kiln::Kernel& kernel = s.kernels[k].kernel;
        if (stage == "kernel") {
          out << (k ? "\n" : "") << kernel.str();
        } else {
          out << (k ? "\n" : "") << fmt::format("{} kernel {}: {}\n", comment, k, kernel.name)
              << backend->emit(stage, kernel);
        }
      }
    }
  }
  out.flush();

  if (running) {
    if (o.time) std::cerr << fmt::format("kilnc: parsed {} in {:.2f} ms\n", shown, parse_ms);
    for (const NodeRef& n : prog.inputs)
      if (!parsed.has_storage(*n)) throw Error("internal: an input has no data");
    auto before = kiln::runtime_stats();
    auto t1 = std::chrono::steady_clock::now();
    check_data(prog.outputs, parsed, shown);
    std::vector<kiln::Tensor> results;
    for (const NodeRef& n : prog.outputs) results.push_back(kiln::wrap(n));
    // Only the outputs stay referenced: a value anything else still holds
    // is stored when computed (see README), and --run must schedule the
    // graph as a program that built it would.
    parsed.values.clear();
    optimized.reset();
    schedule.reset();
    backend->run(results);
    double run_ms = ms_since(t1);
    if (o.run) {
      NameMap names;
      print(prog, &names);
      for (size_t i = 0; i < results.size(); ++i)
        out << "%" << names.at(prog.outputs[i].get()) << " = " << results[i] << "\n";
      out.flush();
    }
    if (o.time) {
      auto after = kiln::runtime_stats();
      int64_t launched = after.kernels_launched - before.kernels_launched;
      std::cerr << fmt::format("kilnc: ran in {:.2f} ms ({} kernel{} launched, {} compiled, {} cache hits)\n", run_ms,
                               launched, launched == 1 ? "" : "s", after.kernels_compiled - before.kernels_compiled,
                               after.kernel_cache_hits - before.kernel_cache_hits);
    }
  }
  if (!out) throw Error("write error on the output");
  return 0;
}

}  // namespace kilnc

int main(int argc, char** argv) {
  return kiln::run_with_big_stack([&] {
    try {
      return kilnc::main_(argc, argv);
    } catch (const kiln::text::ParseError& e) {
      std::cerr << e.what();
    } catch (const kiln::Error& e) {
      std::cerr << "kilnc: error: " << e.what() << "\n";
    } catch (const std::bad_alloc&) {
      std::cerr << "kilnc: error: out of memory\n";
    } catch (const std::exception& e) {
      std::cerr << "kilnc: error: " << e.what() << "\n";
    }
    return 1;
  });
}
