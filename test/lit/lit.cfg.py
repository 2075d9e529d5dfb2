# lit configuration for kilnc's tests: each .kiln file holds its RUN lines,
# its input and its FileCheck expectations side by side.
# Run through CTest (test "lit"), or: python3 lit.py -sv BUILD/test/lit
import os

import lit.formats

config.name = "kilnc"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".kiln"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kiln_binary_dir, "test", "lit")

# kilnc, then FileCheck, not and split-file from LLVM's tools.
path = [config.kilnc_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ.get("PATH", ""))]
config.environment["PATH"] = os.pathsep.join(path)
# The output must not depend on the user's debug level.
config.environment.pop("KILN_DEBUG", None)
# Compile for real (a warm disk cache would say "loaded" instead).
config.environment["KILN_CACHE_DIR"] = "off"
config.substitutions.append(("%python", config.python_executable))
