"""Registered architectures (explicit imports, no filename scanning)."""
from fhgan_plugin.archs.dsnet_arch import DSNET_CONFIGS, DSNet, SparseBlock

__all__ = ['DSNet', 'DSNET_CONFIGS', 'SparseBlock']
