"""Registered datasets and the canonical degradation (explicit imports, no filename scanning)."""
from fhgan_plugin.data.degradation import canonical_degradation
from fhgan_plugin.data.face_sr_dataset import FaceSRDataset

__all__ = ['FaceSRDataset', 'canonical_degradation']
