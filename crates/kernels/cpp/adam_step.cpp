// One Adam update of a float32 parameter in one pass over its four arrays (parameter, gradient,
// first and second moments), for neuroforge-kernels' libtorch path (`crate::adam_step`).
// The arithmetic is burn's Adam, operation for operation in single precision (each product,
// sum and quotient rounded as libtorch's one-operation kernels round it; the build turns off
// contraction into fused multiply-adds), so the moments are bit for bit the ones burn's
// sequence of thirteen tensor operations gives, without its twelve intermediate tensors. The
// square root is correctly rounded here; libtorch's (MKL's) is one unit in the last place off
// on about 1% of values, so a parameter's step can differ from burn's in its last bit:
//   m' = m * beta_1 + g * (1 - beta_1)
//   v' = v * beta_2 + (g * g) * (1 - beta_2)
//   p' = p - ((m' * combined) / (sqrt(v') + epsilon_term)) * learning_rate
// The outputs are new tensors: the parameter and the moments may be shared with other
// holders (module copies, checkpoints being written), so nothing is updated in place.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>

namespace {
void report(const char* message, char* error, size_t error_len) {
  if (error != nullptr && error_len > 0) {
    std::strncpy(error, message, error_len - 1);
    error[error_len - 1] = '\0';
  }
}
}  // namespace

extern "C" int neuroforge_adam_step(const at::Tensor* param, const at::Tensor* grad,
                                    const at::Tensor* moment_1, const at::Tensor* moment_2,
                                    double beta_1, double beta_2, double combined,
                                    double epsilon_term, double learning_rate,
                                    at::Tensor** param_out, at::Tensor** moment_1_out,
                                    at::Tensor** moment_2_out, char* error, size_t error_len) {
  *param_out = nullptr;
  *moment_1_out = nullptr;
  *moment_2_out = nullptr;
  try {
    const at::Tensor* inputs[] = {param, grad, moment_1, moment_2};
    for (const at::Tensor* t : inputs) {
      if (t->scalar_type() != at::kFloat || !t->device().is_cpu() ||
          t->sizes() != param->sizes()) {
        report("adam_step: the parameter, gradient and moments must be float32 CPU tensors "
               "of one shape", error, error_len);
        return 1;
      }
    }
    const at::Tensor p = param->contiguous();
    const at::Tensor g = grad->contiguous();
    const at::Tensor m = moment_1->contiguous();
    const at::Tensor v = moment_2->contiguous();
    at::Tensor p_new = at::empty_like(p, at::MemoryFormat::Contiguous);
    at::Tensor m_new = at::empty_like(p, at::MemoryFormat::Contiguous);
    at::Tensor v_new = at::empty_like(p, at::MemoryFormat::Contiguous);
    // The scalars as libtorch's kernels take a double scalar for a float tensor.
    const float b1 = static_cast<float>(beta_1);
    const float one_minus_b1 = static_cast<float>(1.0 - beta_1);
    const float b2 = static_cast<float>(beta_2);
    const float one_minus_b2 = static_cast<float>(1.0 - beta_2);
    const float factor = static_cast<float>(combined);
    const float eps = static_cast<float>(epsilon_term);
    const float lr = static_cast<float>(learning_rate);
    const float* ps = p.const_data_ptr<float>();
    const float* gs = g.const_data_ptr<float>();
    const float* ms = m.const_data_ptr<float>();
    const float* vs = v.const_data_ptr<float>();
    float* po = p_new.mutable_data_ptr<float>();
    float* mo = m_new.mutable_data_ptr<float>();
    float* vo = v_new.mutable_data_ptr<float>();
    at::parallel_for(0, p.numel(), 32768, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float gi = gs[i];
        const float m_i = ms[i] * b1 + gi * one_minus_b1;
        const float v_i = vs[i] * b2 + (gi * gi) * one_minus_b2;
        const float update = (m_i * factor) / (std::sqrt(v_i) + eps);
        mo[i] = m_i;
        vo[i] = v_i;
        po[i] = ps[i] - update * lr;
      }
    });
    *param_out = new at::Tensor(std::move(p_new));
    *moment_1_out = new at::Tensor(std::move(m_new));
    *moment_2_out = new at::Tensor(std::move(v_new));
    return 0;
  } catch (const std::exception& e) {
    report(e.what(), error, error_len);
  } catch (...) {
    report("adam_step: an unknown C++ exception", error, error_len);
  }
  delete *param_out;
  delete *moment_1_out;
  delete *moment_2_out;
  *param_out = nullptr;
  *moment_1_out = nullptr;
  *moment_2_out = nullptr;
  return 1;
}
