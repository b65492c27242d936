//! What every training verb (`train`, `resume`) sets up around the pipeline's session: a
//! progress bar over its steps and the Ctrl-C / SIGTERM handlers.

use burn::tensor::Device;
use neuroforge_pipeline::{PipelineError, TrainingSession};
use neuroforge_train::{RunContext, SessionObserver, Trainer};

use crate::error::CliError;
use crate::interrupt;
use crate::progress::SessionBar;

/// The steps of a GAN session, and what its bar shows until the first one.
pub const ITERATIONS: (&str, &str) = ("iterations", "preparing the data");

/// The steps of a MARBLE session, and what its bar shows until the first one.
pub const EPOCHS: (&str, &str) = (
    "epochs",
    "proximity graphs, gradient operators and diffusion terms",
);

/// Run the training verb `train` on `device` with a progress bar over its steps (`steps`: their
/// name and what the bar shows until the first). Ctrl-C and SIGTERM are caught from the first
/// step on, so that a signal while the data are read still ends the program at once. The bar
/// is cleared before the result comes back, so the caller's summary prints on a clean line.
pub fn with_session_bar<T: Trainer, R>(
    device: &Device,
    context: &RunContext,
    (unit, preparing): (&str, &str),
    train: impl FnOnce(TrainingSession<'_, T>) -> Result<R, PipelineError>,
) -> Result<R, CliError>
where
    SessionBar: SessionObserver<T>,
{
    let mut bar = SessionBar::new(unit, preparing);
    let result = train(TrainingSession {
        device,
        context,
        observer: &mut bar,
        stop: &interrupt::catch_stop_signals,
    });
    drop(bar);
    Ok(result?)
}
