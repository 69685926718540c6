"""Registered losses (explicit imports, no filename scanning)."""
from fhgan_plugin.losses.arcface_loss import ArcFaceLoss
from fhgan_plugin.losses.identity_loss import IdentityLoss
from fhgan_plugin.losses.perceptual_loss import FHPerceptualLoss
from fhgan_plugin.losses.wgan_gp_loss import WGANGPLoss, gradient_penalty

__all__ = ['ArcFaceLoss', 'IdentityLoss', 'FHPerceptualLoss', 'WGANGPLoss', 'gradient_penalty']
