// Kernel IR text: every kernel the scheduler makes prints, parses (with
// kernel/kernel_parser.h) and prints the same text; malformed kernels are
// refused with the line and what was expected, or the verifier's reason.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <kiln/kiln.h>

#include "kernel/kernel_parser.h"
#include "passes/passes.h"
#include "schedule/schedule.h"
#include "tensor/tensor_impl.h"
#include "text/parser.h"

namespace {

using kiln::DType;
using kiln::Tensor;

// The kernels of the schedule that computes `outputs`.
std::vector<kiln::Kernel> kernels_of(const std::vector<Tensor>& outputs) {
  std::vector<kiln::NodeRef> nodes;
  for (const Tensor& t : outputs) nodes.push_back(kiln::node_of(t));
  kiln::Schedule s = kiln::make_schedule(kiln::passes::optimize(nodes));
  std::vector<kiln::Kernel> ks;
  for (auto& sk : s.kernels) ks.push_back(sk.kernel);
  return ks;
}

void expect_roundtrip(const kiln::Kernel& k) {
  std::string text = k.str();
  kiln::Kernel parsed;
  try {
    parsed = kiln::parse_kernel(text);
  } catch (const kiln::Error& e) {
    ADD_FAILURE() << e.what() << "\n" << text;
    return;
  }
  EXPECT_EQ(parsed.str(), text);
}

TEST(KernelIR, RoundtripOfScheduledKernels) {
  using namespace kiln;
  std::vector<Tensor> outs;
  Tensor x = rand({6, 10}), y = rand({6, 10}), v = rand({10});
  outs.push_back((x.sin() * y + 1).exp().sqrt());          // an elementwise chain
  outs.push_back(x + v);                                   // a broadcast input
  outs.push_back(x.sum({1}));                              // a reduction
  outs.push_back(x.amax({0}));
  outs.push_back(x.argmax(1));
  outs.push_back(nn::softmax(x, 1));                         // reductions with post stages
  outs.push_back(nn::layer_norm(x, {10}));
  outs.push_back(matmul(x, y.t()));                        // matmul
  outs.push_back(x.cumsum(1));                             // a scan
  Tensor idx = tensor({{0, 2}, {1, 1}, {5, 0}}, TensorOptions().dtype(kInt64));
  outs.push_back(x.gather(1, idx.repeat({2, 1})));         // indexed loads
  outs.push_back(zeros({6, 10}).scatter_add(1, idx.repeat({2, 1}), ones({6, 2})));  // accumulating stores
  Tensor z = x.clone();
  z.index_put_({tensor({1, 3}, TensorOptions().dtype(kInt64))}, ones({2, 10}));
  outs.push_back(z);
  outs.push_back(x.pow(2) + x.pow(2.5) * 0.123);           // a param const
  outs.push_back(where(x > y, x, y));
  // Casts between every pair of dtypes, and arithmetic in each.
  for (int a = 0; a < kNumDTypes; ++a) {
    Tensor xa = (x * 10).to(DType(a));
    outs.push_back(xa + xa);
    for (int b = 0; b < kNumDTypes; ++b) outs.push_back(xa.to(DType(b)));
  }
  Tensor i = (x * 20 - 10).to(kInt32), j = (y * 9 + 1).to(kInt32);
  outs.push_back(i.remainder(j) + i.fmod(j) + div(i, j, "floor") + div(i, j, "trunc"));
  int count = 0;
  for (const Tensor& t : outs)
    for (const kiln::Kernel& k : kernels_of({t})) {
      expect_roundtrip(k);
      ++count;
    }
  EXPECT_GE(count, 100);
}

// The graphs of kilnc's lit tests: every kernel of every file that parses.
TEST(KernelIR, RoundtripOfLitGraphs) {
  int count = 0;
  for (const auto& e : std::filesystem::directory_iterator(KILN_LIT_DIR)) {
    if (e.path().extension() != ".kiln") continue;
    std::ifstream f(e.path());
    std::stringstream ss;
    ss << f.rdbuf();
    kiln::text::ParseOptions po;
    po.base_dir = e.path().parent_path().string();
    std::vector<kiln::Kernel> ks;
    try {
      kiln::text::Parsed p = kiln::text::parse(ss.str(), po);
      std::vector<Tensor> outs;
      for (auto& n : p.outputs) outs.push_back(kiln::wrap(n));
      ks = kernels_of(outs);
    } catch (const kiln::Error&) {
      continue;  // an error test
    }
    for (const kiln::Kernel& k : ks) {
      SCOPED_TRACE(e.path().filename().string());
      expect_roundtrip(k);
      ++count;
    }
  }
  EXPECT_GE(count, 20);
}

std::string parse_error(const std::string& text) {
  try {
    kiln::parse_kernel(text);
  } catch (const kiln::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(KernelIR, ParseErrorsNameTheLine) {
  const std::string head = "kernel E_x rank=1 {\n  arg0: in f32 inner=contig\n  arg1: out f32 inner=contig\n";
  EXPECT_EQ(parse_error(""), "line 1: expected 'kernel NAME rank=N {', got no text");
  EXPECT_EQ(parse_error("kernel E rank=x {\n}\n"), "line 1: expected a rank (an integer >= 0), got 'x'");
  EXPECT_EQ(parse_error(head + "  %0 = load arg0 : f32\n  %1 = frobnicate %0 : f32\n  store arg1, %1\n}\n"),
            "line 5: unknown op 'frobnicate' (not in the op table, graph/ops.def)");
  EXPECT_EQ(parse_error(head + "  %0 = load arg0 : f32\n  %2 = neg %0 : f32\n}\n"),
            "line 5: expected %1 (instructions are numbered in order), got %2");
  EXPECT_EQ(parse_error(head + "  %0 = load arg0 : f99\n}\n"),
            "line 4: expected a dtype (i1, i8, u8, i16, i32, i64, f16, bf16, f32, f64), got 'f99'");
  EXPECT_EQ(parse_error(head + "  %0 = load arg0 : f32\n"), "line 4: expected '}' closing kernel E_x, got the end of the text");
  // The verifier's complaints, at the instruction's line.
  EXPECT_EQ(parse_error(head + "  %0 = load arg0 : f32\n  %1 = add %0, %5 : f32\n  store arg1, %1\n}\n"),
            "line 5: invalid kernel E_x: %1: operand %5 is not an earlier value");
  EXPECT_EQ(parse_error(head + "  %0 = load arg0 : f32\n  %1 = cast %0 : i32\n  store arg1, %1\n}\n"),
            "line 6: invalid kernel E_x: %2: dtype int32 does not match arg1 (float32)");
  EXPECT_EQ(parse_error(head + "  %0 = load arg0 : f32\n  store arg0, %0\n}\n"),
            "line 5: invalid kernel E_x: %1: store to an input arg");
  EXPECT_EQ(parse_error("kernel R rank=1 reduce=1 {\n}\n"),
            "line 1: invalid kernel R: reduce_rank 1 needs at least one output dim (rank 1)");
}

// Mutated kernel texts (characters dropped, replaced, lines repeated or
// dropped) parse or throw kiln::Error: never a crash or another exception.
TEST(KernelIR, MalformedTextNeverCrashes) {
  using namespace kiln;
  Tensor x = rand({4, 6}), idx = tensor({{0, 2}, {1, 1}, {5, 0}, {3, 3}}, TensorOptions().dtype(kInt64));
  std::vector<std::string> texts;
  for (auto& t : {nn::layer_norm(x, {6}), x.gather(1, idx), x.cumsum(1), x.pow(2.5) * 0.3})
    for (const Kernel& k : kernels_of({t})) texts.push_back(k.str());
  std::mt19937 rng(7);
  const std::string alphabet = "%=:,{}[]# \n0123456789-.aerx_";
  int parsed = 0;
  for (int n = 0; n < 4000; ++n) {
    std::string s = texts[size_t(n) % texts.size()];
    for (int m = 0; m < 1 + n % 3; ++m) {
      size_t at = rng() % s.size();
      switch (rng() % 4) {
        case 0: s.erase(at, 1); break;
        case 1: s[at] = alphabet[rng() % alphabet.size()]; break;
        case 2: {
          size_t b = s.rfind('\n', at), e = s.find('\n', at);
          b = b == std::string::npos ? 0 : b + 1;
          if (e != std::string::npos) s.insert(b, s.substr(b, e - b + 1));
          break;
        }
        default: {
          size_t b = s.rfind('\n', at), e = s.find('\n', at);
          b = b == std::string::npos ? 0 : b + 1;
          if (e != std::string::npos) s.erase(b, e - b + 1);
          break;
        }
      }
    }
    try {
      Kernel k = parse_kernel(s);
      EXPECT_EQ(parse_kernel(k.str()).str(), k.str());
      ++parsed;
    } catch (const Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a kiln::Error: " << e.what() << "\n" << s;
    }
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
