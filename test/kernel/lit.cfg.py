# lit configuration for the Kernel IR tests: each .kir file holds kernels
# with launch lines, run by `kilnc --kernel` on every backend of the build
# and compared with the reference evaluator (a new backend inherits them).
# Run through CTest (test "kernel_lit"), or: python3 lit.py -sv BUILD/test/kernel
import os

import lit.formats

config.name = "kiln-kernel"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".kir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kiln_binary_dir, "test", "kernel")

path = [config.kilnc_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ.get("PATH", ""))]
config.environment["PATH"] = os.pathsep.join(path)
config.environment.pop("KILN_DEBUG", None)
config.environment["KILN_CACHE_DIR"] = "off"
