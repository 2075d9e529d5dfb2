#include <kiln/kiln.h>
#include <iostream>
int main() {
  auto x = kiln::tensor({{1., 2.}, {3., 4.}});
  std::cout << (x * 2 + 1).sin() << "\n";
}
