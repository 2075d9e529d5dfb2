#include <kiln/kiln.h>
#include <iostream>

int main() {
  auto x = kiln::tensor({1., 2., 3.});
  std::cout << (x * x + 1) << "\n";
}
