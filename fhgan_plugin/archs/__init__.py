"""Registered architectures (explicit imports, no filename scanning)."""
from fhgan_plugin.archs.arcface_head import ArcMarginHead
from fhgan_plugin.archs.critic_arch import FHCritic
from fhgan_plugin.archs.dsnet_arch import DSNET_CONFIGS, DSNet, SparseBlock
from fhgan_plugin.archs.face_recognizer import FaceEmbedder
from fhgan_plugin.archs.iresnet_arch import FHIResNet
from fhgan_plugin.archs.mobilefacenet_arch import FHMobileFaceNet

__all__ = ['DSNet', 'DSNET_CONFIGS', 'SparseBlock', 'FHCritic', 'FHIResNet', 'FHMobileFaceNet', 'FaceEmbedder',
           'ArcMarginHead']
