#pragma once
// The umbrella header: everything a kiln user needs.
#include "kiln/autograd.h"
#include "kiln/device.h"
#include "kiln/dtype.h"
#include "kiln/error.h"
#include "kiln/indexing.h"
#include "kiln/nn.h"
#include "kiln/ops.h"
#include "kiln/runtime.h"
#include "kiln/scalar.h"
#include "kiln/tensor.h"
#include "kiln/text.h"
