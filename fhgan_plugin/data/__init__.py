"""Registered datasets, the canonical degradation, pair lists (explicit imports, no filename scanning)."""
from fhgan_plugin.data.degradation import back_project, canonical_degradation
from fhgan_plugin.data.face_id_dataset import FaceIdentityDataset
from fhgan_plugin.data.face_sr_dataset import FaceSRDataset
from fhgan_plugin.data.pairs import Pair, parse_cfp_pairs, parse_lfw_pairs
from fhgan_plugin.data.verification_dataset import VerificationPairsDataset

__all__ = ['FaceSRDataset', 'FaceIdentityDataset', 'VerificationPairsDataset', 'canonical_degradation', 'back_project',
           'Pair', 'parse_lfw_pairs', 'parse_cfp_pairs']
