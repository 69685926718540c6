"""5-point face alignment to the ArcFace 112x112 template.

The template and the similarity-transform estimate (Umeyama, no reflection) follow insightface's
``face_align.py``. Detection uses facexlib's RetinaFace (MobileNet-0.25 by default); its weights are
read from a folder (``model_rootpath``) so that nothing is downloaded at run time.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

#: ArcFace 5-point template for a 112x112 face: left eye, right eye, nose, left / right mouth corner.
ARCFACE_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64)

#: Mean RetinaFace landmarks of 60 random 250x250 deep-funneled LFW images (measured here); used as a
#: documented fallback when no face is detected in an LFW-framed image.
LFW_MEAN_LANDMARKS_250 = np.array(
    [[104.5, 112.7], [146.5, 111.6], [125.9, 136.3], [108.3, 156.8], [144.7, 156.1]], dtype=np.float64)


def arcface_template(size: int = 112, template_scale: float = 1.0) -> np.ndarray:
    """The ArcFace template for a square output of ``size`` pixels.

    Args:
        size: Output side length in pixels (112 is the ArcFace standard; 128, 256… for other SR settings).
        template_scale: Zoom of the template about the image centre (<1 shows more context).

    Returns:
        (5, 2) float64 landmark coordinates in output pixels.
    """
    pts = ARCFACE_TEMPLATE_112 * (size / 112.0)
    centre = np.array([size / 2.0, size / 2.0])
    return (pts - centre) * template_scale + centre


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) mapping src to dst.

    Umeyama (1991) without reflection, as skimage's ``SimilarityTransform.estimate``.

    Args:
        src: (N, 2) source points, N >= 2.
        dst: (N, 2) destination points.

    Returns:
        (2, 3) float64 affine matrix ``M`` with ``dst ≈ M[:, :2] @ src + M[:, 2]``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2:
        raise ValueError(f'estimate_similarity needs two (N, 2) arrays with N >= 2, got {src.shape} and {dst.shape}')
    n = src.shape[0]
    mu_s, mu_d = src.mean(0), dst.mean(0)
    sc, dc = src - mu_s, dst - mu_d
    var_s = (sc**2).sum() / n
    if var_s == 0:
        raise ValueError('estimate_similarity: all source points coincide')
    cov = dc.T @ sc / n
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rot = u @ np.diag(d) @ vt
    scale = float((s * d).sum() / var_s)
    trans = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, trans[:, None]])


def warp_face(img: np.ndarray,
              landmarks: np.ndarray,
              size: int = 112,
              template_scale: float = 1.0,
              interpolation: int = cv2.INTER_LINEAR) -> tuple[np.ndarray, np.ndarray]:
    """Warp a face so its 5 landmarks land on the ArcFace template.

    Args:
        img: (H, W, C) uint8 image (any channel order; it is kept).
        landmarks: (5, 2) landmark coordinates in ``img`` pixels.
        size: Output side length.
        template_scale: See :func:`arcface_template`.
        interpolation: OpenCV interpolation flag.

    Returns:
        The (size, size, C) aligned face and the (2, 3) matrix used. Outside the photo is black
        (insightface's convention).
    """
    mat = estimate_similarity(landmarks, arcface_template(size, template_scale))
    out = cv2.warpAffine(img, mat, (size, size), flags=interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, mat


def transform_points(points: np.ndarray, mat: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to (N, 2) points."""
    points = np.asarray(points, dtype=np.float64)
    return points @ mat[:, :2].T + mat[:, 2]


@dataclass
class Detection:
    """One detected face: box (x1, y1, x2, y2), score and (5, 2) landmarks."""
    box: np.ndarray
    score: float
    landmarks: np.ndarray = field(repr=False)


class FaceDetector:
    """facexlib RetinaFace behind a small interface, weights read from a folder.

    Args:
        model_rootpath: Folder holding ``detection_mobilenet0.25_Final.pth`` (or the ResNet-50 file).
        model_name: facexlib detector name.
        device: Torch device string.
    """

    _FILES = {'retinaface_mobile0.25': 'detection_mobilenet0.25_Final.pth',
              'retinaface_resnet50': 'detection_Resnet50_Final.pth'}

    def __init__(self, model_rootpath: str, model_name: str = 'retinaface_mobile0.25', device: str = 'cpu') -> None:
        if model_name not in self._FILES:
            raise ValueError(f'Unknown detector {model_name!r}; choose one of {sorted(self._FILES)}')
        weight = os.path.join(model_rootpath, self._FILES[model_name])
        if not os.path.isfile(weight):
            raise FileNotFoundError(
                f'RetinaFace weights not found: {weight}. Put facexlib\'s {self._FILES[model_name]} there '
                '(in this workplace: ../shared/models/facexlib/) or pass --detector-root.')
        try:
            from facexlib.detection import init_detection_model
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError('Face detection needs facexlib: pip install "fhgan-plugin[align]"') from err
        import torch
        self._torch = torch
        self.net = init_detection_model(model_name, half=False, device=device, model_rootpath=model_rootpath)

    def detect(self, img_bgr: np.ndarray, conf_threshold: float = 0.8) -> list[Detection]:
        """Detect faces in a (H, W, 3) uint8 BGR image."""
        with self._torch.no_grad():
            boxes = self.net.detect_faces(img_bgr, conf_threshold)
        return [Detection(np.asarray(b[:4], dtype=np.float64), float(b[4]),
                          np.asarray(b[5:15], dtype=np.float64).reshape(5, 2)) for b in boxes]


def pick_central(detections: list[Detection], image_shape: tuple[int, ...]) -> Detection | None:
    """The detection whose box centre is nearest the image centre (the LFW convention)."""
    if not detections:
        return None
    centre = np.array([image_shape[1] / 2.0, image_shape[0] / 2.0])
    dists = [np.linalg.norm((d.box[:2] + d.box[2:]) / 2.0 - centre) for d in detections]
    return detections[int(np.argmin(dists))]


def redetect_landmarks(det: FaceDetector, img_bgr: np.ndarray,
                       landmarks: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Re-detect the landmarks of an aligned face, as a check of the alignment.

    The face is warped again at the same scale with 56 px of context on every side (a tight 112 crop
    is too little context for RetinaFace) and detected there.

    Returns:
        Re-detected (5, 2) landmarks (None if no face) and the original landmarks carried through the
        warp, both in the coordinates of the 112x112 aligned face.
    """
    ctx, mat = warp_face(img_bgr, landmarks, 224, 0.5)
    carried = transform_points(landmarks, mat) - 56
    face = pick_central(det.detect(ctx, 0.5), ctx.shape)
    return (None if face is None else face.landmarks - 56), carried


def warp_affine_batch(x: torch.Tensor, mats: torch.Tensor, size: int = 112) -> torch.Tensor:
    """``cv2.warpAffine`` of a batch in PyTorch (bilinear, black outside): differentiable, on any device.

    Args:
        x: (N, C, H, W) float images.
        mats: (N, 2, 3) matrices in pixel coordinates (OpenCV's convention: ``dst = M @ [x, y, 1]``, pixel
            centres at integers), e.g. from :func:`estimate_similarity`.
        size: Output side length.

    Returns:
        (N, C, size, size) warped images.
    """
    import torch.nn.functional as F
    n, _, h, w = x.shape
    mats = torch.as_tensor(mats, dtype=torch.float64)
    full = torch.zeros(n, 3, 3, dtype=torch.float64)
    full[:, :2] = mats
    full[:, 2, 2] = 1
    inv = torch.linalg.inv(full)  # output pixel -> input pixel

    # affine_grid works in normalised coordinates (align_corners=False): pixel p = ((u + 1) * s - 1) / 2
    in_norm = torch.tensor([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1], [0, 0, 1]], dtype=torch.float64)
    out_pix = torch.tensor([[size / 2, 0, (size - 1) / 2], [0, size / 2, (size - 1) / 2], [0, 0, 1]],
                           dtype=torch.float64)
    theta = (in_norm @ inv @ out_pix)[:, :2].to(x.dtype).to(x.device)
    grid = F.affine_grid(theta, [n, x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
