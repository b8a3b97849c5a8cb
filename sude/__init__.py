"""SuDe: subject-derived regularization for personalized text-to-image training.

Home of the loss that any diffusers training loop can add (Qiao et al., "Personalize Anything as a
Subject-Derived Class", CVPR 2024); it imports nothing from ``facechain``. The loss itself lands with
the LoRA training work.
"""
