//! CycleGAN's attribution maps (METHODS.md section 2): per neuron and time, what a trained
//! generator changes (`|G(x) - x|`), the input-gradient saliency of the target
//! discriminator's verdict on the translation, and its Grad-CAM on the untranslated input.
//! [`crate::attribution`] aggregates them per neuron and scores them against known changes.

use burn::tensor::{Device, Tensor, TensorData};
use ndarray::Array3;
use neuroforge_models::{CycleGenerator, PatchDiscriminator};

use crate::{ExplainError, Result};

fn values<const D: usize>(x: Tensor<D>) -> Result<Vec<f32>> {
    x.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| ExplainError::Network(format!("reading a tensor: {e:?}")))
}

fn shaped(values: Vec<f32>, shape: (usize, usize, usize)) -> Result<Array3<f32>> {
    Array3::from_shape_vec(shape, values).map_err(|e| ExplainError::Network(e.to_string()))
}

/// Per-sample attribution maps of what a CycleGAN generator changes, each `[S, N, T]` in model
/// order.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributionMaps {
    /// `|G(x) - x|`: what the generator adds or removes.
    pub change: Array3<f32>,
    /// `|d sum_patches D_other(G(x)) / dx|`: input-gradient saliency of the target
    /// discriminator's verdict on the translation.
    pub saliency: Array3<f32>,
    /// Grad-CAM of the target discriminator on the untranslated input: `relu(sum_k w_k A_k)`
    /// with `w_k` the mean gradient of minus the summed patch scores (the evidence that the
    /// sample is not yet of the target condition) over feature map `A_k`, upsampled (nearest)
    /// to `N x T`.
    pub grad_cam: Array3<f32>,
}

/// Attribution maps for samples `[S, N, T]` (model order, normalised as the generator's input
/// condition) of `generator`, judged by `target`, the discriminator of the condition it
/// translates to. The networks must live on an autodiff device (the gradient maps need it).
pub fn cyclegan_attributions(
    generator: &CycleGenerator,
    target: &PatchDiscriminator,
    samples: &Array3<f32>,
    device: &Device,
) -> Result<AttributionMaps> {
    let (s, n, t) = samples.dim();
    let device = device.clone().autodiff();
    let flat: Vec<f32> = samples.iter().copied().collect();
    let (mut change, mut saliency, mut cam) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in flat.chunks(32 * n * t) {
        let b = chunk.len() / (n * t);
        let x = Tensor::<3>::from_data(TensorData::new(chunk.to_vec(), [b, n, t]), &device)
            .require_grad();
        let translated = generator.forward(x.clone());
        change.extend(values((translated.clone() - x.clone()).abs().detach())?);
        let grads = target.forward(translated).sum().backward();
        let missing =
            || ExplainError::Network("no input gradient: the device lacks autodiff".into());
        saliency.extend(values(x.grad(&grads).ok_or_else(missing)?.abs())?);
        // Grad-CAM on the features of the input itself.
        let x = Tensor::<3>::from_data(TensorData::new(chunk.to_vec(), [b, n, t]), &device);
        let features = target.features(x).detach().require_grad();
        // Evidence that the input is not yet of the target condition.
        let grads = target
            .score_features(features.clone())
            .sum()
            .neg()
            .backward();
        let [_, _, h, w] = features.dims();
        let weights = features
            .grad(&grads)
            .ok_or_else(missing)?
            .mean_dim(3)
            .mean_dim(2);
        let map = (features.detach().without_autodiff() * weights)
            .sum_dim(1)
            .clamp_min(0.0);
        let map = values(map)?;
        cam.extend(upsample_nearest(
            &map,
            b,
            [h, w],
            target.config.image_size(),
            [n, t],
        ));
    }
    let shape = (s, n, t);
    Ok(AttributionMaps {
        change: shaped(change, shape)?,
        saliency: shaped(saliency, shape)?,
        grad_cam: shaped(cam, shape)?,
    })
}

/// Nearest-neighbour upsampling of `b` maps of `[h, w]` (over an image of `image` = `[H, W]`)
/// to samples of `[n, t]`. In the neuron-channel layout the image is `1 x T`, and the map is
/// spread over all neurons.
fn upsample_nearest(
    maps: &[f32],
    b: usize,
    [h, w]: [usize; 2],
    [image_h, _]: [usize; 2],
    [n, t]: [usize; 2],
) -> Vec<f32> {
    let mut out = Vec::with_capacity(b * n * t);
    for k in 0..b {
        for row in 0..n {
            let i = if image_h == 1 {
                0
            } else {
                (row * h / n).min(h - 1)
            };
            for col in 0..t {
                let j = (col * w / t).min(w - 1);
                out.push(maps.get(k * h * w + i * w + j).copied().unwrap_or(0.0));
            }
        }
    }
    out
}
