"""Registered models (explicit imports, no filename scanning)."""
from fhgan_plugin.models.face_gan_model import FaceGANModel
from fhgan_plugin.models.face_recognition_model import FaceRecognitionModel
from fhgan_plugin.models.face_sr_model import FaceSRModel, NonFiniteLossError
from fhgan_plugin.models.fhgan_model import FHGANModel

__all__ = ['FaceSRModel', 'FaceGANModel', 'FHGANModel', 'FaceRecognitionModel', 'NonFiniteLossError']
