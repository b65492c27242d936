//! Helpers shared by the training crate's integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // shared by several test crates

use burn::module::Module;

/// Every float parameter of `module`, in visiting order.
pub fn flat_weights<M: Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            let data = param.val().into_data().convert::<f32>();
            self.0.extend_from_slice(data.as_slice::<f32>().unwrap());
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}
