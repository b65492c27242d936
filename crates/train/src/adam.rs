//! Adam with a one-pass update where the backend has one (`neuroforge_kernels::adam_step`: on
//! libtorch), burn's Adam everywhere else. The state is burn's `AdamState`, so checkpoints are
//! the same either way, and so are the values: the fused update does burn's arithmetic operation
//! by operation (its square root correctly rounded, so a step can differ in its last bit).

use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::tensor::{Device, Tensor};
use neuroforge_kernels::AdamStep;

/// burn's Adam (no weight decay, no AMSGrad) whose updates after the first run in one pass on
/// backends with a fused kernel.
#[derive(Clone)]
pub(crate) struct FusedAdam {
    adam: Adam,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

impl FusedAdam {
    /// The optimizer of `beta_1`, `beta_2` and `epsilon` (as burn's `AdamConfig` takes them) for
    /// a whole module.
    pub(crate) fn module_optimizer(beta_1: f32, beta_2: f32, epsilon: f32) -> ModuleOptimizer {
        let adam = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .build();
        ModuleOptimizer::from(Self {
            adam,
            beta_1,
            beta_2,
            epsilon,
        })
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if let Some(previous) = &state {
            let momentum = &previous.momentum;
            let time = momentum.time + 1;
            let step = AdamStep {
                beta_1: self.beta_1,
                beta_2: self.beta_2,
                epsilon: self.epsilon,
                time: i32::try_from(time).unwrap_or(i32::MAX),
                learning_rate: lr,
            };
            if let Some([param, moment_1, moment_2]) = neuroforge_kernels::adam_step(
                &tensor,
                &grad,
                &momentum.moment_1,
                &momentum.moment_2,
                &step,
            ) {
                let momentum = AdaptiveMomentumState::new(time, moment_1, moment_2);
                return (param, Some(AdamState::new(momentum)));
            }
        }
        self.adam.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}
