"""SuDe: subject-derived regularization for personalized text-to-image training.

A loss any diffusers training loop can add (Qiao et al., "Personalize Anything as a Subject-Derived
Class", CVPR 2024); nothing here imports ``facechain``::

    from sude import category_and_empty_predictions, sude_loss

    pred = unet(noisy, t, encoder_hidden_states=subject_states).sample           # with grad
    cat, empty = category_and_empty_predictions(unet, noisy, t, category_states, empty_states)
    loss = diffusion_loss + sude_weight * sude_loss(noisy, t, scheduler, pred, cat, empty).loss.mean()
"""

from .flow import flow_posterior_terms, flow_sude_loss, gaussian_posterior
from .loss import SuDeOutput, category_and_empty_predictions, posterior_terms, predicted_original, sude_loss

__all__ = [
    "SuDeOutput",
    "category_and_empty_predictions",
    "flow_posterior_terms",
    "flow_sude_loss",
    "gaussian_posterior",
    "posterior_terms",
    "predicted_original",
    "sude_loss",
]
