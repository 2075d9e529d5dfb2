// Nodes carry their device: ops inherit it from their inputs, mixing
// devices is refused naming both (as PyTorch), and realize() asks the
// registry for the backend of the values' device. Only the CPU has a
// backend in this build, so a CUDA value (made through the graph layer, as
// the CUDA backend's transfers will) cannot be computed yet.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include "graph/builders.h"
#include "tensor/tensor_impl.h"

using namespace kiln;

namespace {

NodeRef cuda_leaf() {
  NodeRef n = graph::full(1.5, kFloat32, {4});
  n->device = Device(DeviceType::CUDA, 0);
  return n;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Devices, OpsInheritTheirInputsDevice) {
  Tensor a = ones({4});
  EXPECT_EQ(a.device(), kCPU);
  EXPECT_EQ((a * 2 + a).device(), kCPU);
  Tensor c = wrap(graph::unary(Op::Exp, cuda_leaf()));
  EXPECT_EQ(c.device(), Device(DeviceType::CUDA, 0));
  EXPECT_EQ(c.sum().device(), Device(DeviceType::CUDA, 0));
}

TEST(Devices, MixingDevicesNamesBoth) {
  Tensor a = ones({4});
  Tensor c = wrap(cuda_leaf());
  std::string e = error_of([&] { (void)(a + c); });
  EXPECT_NE(e.find("expected all tensors to be on the same device"), std::string::npos) << e;
  EXPECT_NE(e.find("cpu and cuda:0"), std::string::npos) << e;
}

TEST(Devices, RealizeAsksTheRegistryForTheDevicesBackend) {
  Tensor c = wrap(graph::unary(Op::Exp, cuda_leaf()));
  std::string e = error_of([&] { c.realize(); });
  EXPECT_NE(e.find("device cuda:0 is not supported yet"), std::string::npos) << e;
  std::string mixed = error_of([&] { realize(ones({2}) + 1, c); });
  EXPECT_NE(mixed.find("cpu and cuda:0"), std::string::npos) << mixed;
}
