// aten's `convolution_backward` for neuroforge-kernels' libtorch path (feature `tch`): the
// gradients of a 1-D convolution or transposed convolution in one native call, without
// libtorch's autograd engine. tch (the Rust binding) does not expose this operator.
//
// Tensors cross the boundary as `at::Tensor*`, the representation tch's C API uses.

#include <ATen/core/Tensor.h>
#include <ATen/ops/convolution_backward.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>

extern "C" {

// Writes the gradients with respect to `input` and `weight` of the convolution
// (`transposed == 0`) or transposed convolution (`transposed != 0`) of `input` with `weight`
// (no bias, dilation 1, one group), for the output gradient `grad_output`. A gradient not asked
// for (`need_input`, `need_weight`) is written as a null pointer; the others are new tensors
// the caller owns. Returns 0, or 1 with the exception's message in `error` (truncated to
// `error_len` bytes, NUL-terminated) when libtorch throws.
int neuroforge_convolution_backward(const at::Tensor *grad_output, const at::Tensor *input,
                                    const at::Tensor *weight, int64_t stride, int64_t padding,
                                    int64_t output_padding, int transposed, int need_input,
                                    int need_weight, at::Tensor **grad_input,
                                    at::Tensor **grad_weight, char *error, size_t error_len) {
  *grad_input = nullptr;
  *grad_weight = nullptr;
  try {
    const std::array<bool, 3> mask{need_input != 0, need_weight != 0, false};
    auto gradients = at::convolution_backward(
        *grad_output, *input, *weight, std::nullopt, at::IntArrayRef{stride},
        at::IntArrayRef{padding}, at::IntArrayRef{1}, transposed != 0,
        at::IntArrayRef{output_padding}, 1, mask);
    if (mask[0]) {
      *grad_input = new at::Tensor(std::move(std::get<0>(gradients)));
    }
    if (mask[1]) {
      *grad_weight = new at::Tensor(std::move(std::get<1>(gradients)));
    }
    return 0;
  } catch (const std::exception &exception) {
    delete *grad_input;
    *grad_input = nullptr;
    if (error != nullptr && error_len > 0) {
      std::strncpy(error, exception.what(), error_len - 1);
      error[error_len - 1] = '\0';
    }
    return 1;
  }
}

}  // extern "C"
