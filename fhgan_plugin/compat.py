"""Runtime patches that make BasicSR 1.4.2 work for this plugin, applied once when it is imported.

BasicSR's files are never modified. Each patch is small, idempotent and covered by a test:

1. ``torchvision.transforms.functional_tensor`` alias (``fhgan_plugin_autoload``): BasicSR imports a
   module that current torchvision removed.
2. ``parse_options`` wrapper (``basicsr.utils.options``, ``basicsr.train``, ``basicsr.test``):
   * when BasicSR's root is its *installed* folder (``python -m basicsr.train`` computes it as
     ``site-packages``), experiments, results and tb_logger go to the current working directory instead;
   * it swaps the caller's ``load_resume_state`` for :func:`load_resume_state` below. This is how the
     patch reaches ``python -m basicsr.train``, where ``train.py`` runs as ``__main__`` and defines its
     own copy after the plugin was imported;
   * it seeds the RNGs again with the final ``manual_seed``: BasicSR seeds before it applies
     ``--force_yml``, so ``--force_yml manual_seed=1`` was logged but not used.
3. :func:`load_resume_state`: BasicSR's calls ``torch.cuda.current_device()`` and maps every tensor to
   CUDA, which crashes on CPU; this one maps to CUDA only when ``num_gpu > 0`` and CUDA is there, finds
   ``--auto_resume`` states under the experiment's own ``training_states`` folder (BasicSR looks in a
   cwd-relative ``experiments/``), and loads the state with ``weights_only=False`` (training states
   hold optimizer and scheduler objects; only load states you wrote yourself).
4. ``mkdir_and_rename`` / ``init_tb_logger`` wrappers: re-root a path under the installed BasicSR
   folder to the working directory (``train_pipeline`` keeps its own ``root_path`` for tb_logger).
5. ``--launcher pytorch`` without CUDA: BasicSR's ``_init_dist_pytorch`` calls ``torch.cuda.set_device``
   and asks for NCCL; on a machine without CUDA it now initialises the ``gloo`` backend instead, and
   ``BaseModel.model_to_device`` wraps with ``DistributedDataParallel`` without ``device_ids``.
6. Atomic checkpoints: ``BaseModel.save_network`` and ``save_training_state`` write to ``<file>.tmp`` and
   rename it into place, so a run killed while saving never leaves a truncated ``.pth``/``.state``.
   :func:`load_resume_state` also skips (with a warning) a newest ``.state`` that cannot be read, e.g. one
   a non-patched writer left truncated, and resumes from the newest readable one.
7. Mid-epoch resume: BasicSR's ``EnlargedSampler`` shuffles with the epoch number as seed and a resumed run
   restarts its epoch from the first batch, so a run stopped at iteration 600 of an 847-iteration epoch and
   resumed replays the same 4,800 images and never sees the other ones. :func:`load_resume_state` records
   the resumed (epoch, iteration, batch size) and the patched ``EnlargedSampler.set_epoch`` skips, in that
   epoch only, the samples the earlier run already consumed, so a resumed run sees the same images, in the
   same order, as an uninterrupted one (random augmentations such as flips are not replayed).
"""
from __future__ import annotations

import functools
import logging
import os
import pickle
import sys
from collections.abc import Callable
from typing import Any

import torch

logger = logging.getLogger('fhgan_plugin')

_PATCHED_ATTR = '__fhgan_patched__'
_REROOT: dict[str, str] = {}


def installed_basicsr_root() -> str | None:
    """``site-packages`` (or ``dist-packages``) holding an installed basicsr, else None (a source tree)."""
    import basicsr
    root = os.path.dirname(os.path.dirname(os.path.abspath(basicsr.__file__)))
    return root if os.path.basename(root) in ('site-packages', 'dist-packages') else None


def reroot(path: str) -> str:
    """Map a path under the installed BasicSR root to the same relative path under the working root."""
    if not _REROOT or not isinstance(path, str):
        return path
    src, dst = _REROOT['src'], _REROOT['dst']
    ap = os.path.abspath(path)
    if ap == src or ap.startswith(src + os.sep):
        return os.path.join(dst, os.path.relpath(ap, src))
    return path


def resolve_root(root_path: str) -> str:
    """The experiments root to use for BasicSR's ``root_path`` argument (cwd instead of site-packages)."""
    site = installed_basicsr_root()
    if site is not None and os.path.abspath(root_path) == site:
        _REROOT.update(src=site, dst=os.getcwd())
        return os.getcwd()
    return root_path


def atomic_torch_save(obj: Any, path: Any, *args: Any, **kwargs: Any) -> None:
    """``torch.save`` to ``path + '.tmp'``, then an atomic rename onto ``path`` (file-like targets pass through)."""
    if not isinstance(path, (str, os.PathLike)):
        return _TORCH_SAVE(obj, path, *args, **kwargs)
    tmp = f'{os.fspath(path)}.tmp'
    try:
        _TORCH_SAVE(obj, tmp, *args, **kwargs)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


_TORCH_SAVE = torch.save


def _read_state(path: str, device: torch.device) -> dict[str, Any]:
    return torch.load(path, map_location=device, weights_only=False)


def load_resume_state(opt: dict[str, Any]) -> dict[str, Any] | None:
    """CPU-safe replacement of ``basicsr.train.load_resume_state`` (see module docstring)."""
    from basicsr.utils import check_resume
    use_cuda = bool(opt.get('num_gpu')) and torch.cuda.is_available()
    device = torch.device('cuda', torch.cuda.current_device()) if use_cuda else torch.device('cpu')
    state = None
    if opt.get('auto_resume'):
        state_dir = opt['path'].get('training_states') or os.path.join('experiments', opt['name'], 'training_states')
        iters = []
        if os.path.isdir(state_dir):
            iters = sorted((int(f[:-len('.state')]) for f in os.listdir(state_dir)
                            if f.endswith('.state') and f[:-len('.state')].isdigit()), reverse=True)
        for it in iters:
            path = os.path.join(state_dir, f'{it}.state')
            try:
                state = _read_state(path, device)
                break
            except (EOFError, RuntimeError, OSError, pickle.UnpicklingError) as err:
                logger.warning('fhgan_plugin: training state %s is unreadable (%s: %s), trying an older one',
                               path, type(err).__name__, err)
        if state is None:
            return None
        opt['path']['resume_state'] = path
    else:
        path = opt['path'].get('resume_state')
        if not path:
            return None
        if not os.path.isfile(path):
            raise FileNotFoundError(f'resume_state {path} does not exist')
        state = _read_state(path, device)
    check_resume(opt, state['iter'])
    logger.info('fhgan_plugin: resuming from %s (iter %d) on %s', path, state['iter'], device)
    train_opt = opt.get('datasets', {}).get('train') or {}
    if 'batch_size_per_gpu' in train_opt and 'epoch' in state:
        set_resume_position(state['epoch'], state['iter'], int(train_opt['batch_size_per_gpu']))
    return state


_RESUME_POSITION: dict[str, int] = {}


def set_resume_position(epoch: int, current_iter: int, batch_size: int) -> None:
    """Tell the next ``EnlargedSampler.set_epoch(epoch)`` that ``current_iter`` iterations are already done.

    Args:
        epoch: the epoch stored in the training state (the one the run was in when it saved).
        current_iter: the iteration stored in the training state.
        batch_size: samples per iteration per process (``batch_size_per_gpu``); BasicSR drops the last
            incomplete batch, so an epoch is ``num_samples // batch_size`` iterations.
    """
    _RESUME_POSITION.clear()
    _RESUME_POSITION.update(epoch=int(epoch), iter=int(current_iter), batch_size=int(batch_size))


def _wrap_set_epoch(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def set_epoch(self: Any, epoch: int) -> None:
        orig(self, epoch)
        self._fhgan_skip = 0
        pos = dict(_RESUME_POSITION)
        if not pos or epoch != pos['epoch']:
            return
        _RESUME_POSITION.clear()
        per_epoch = self.num_samples // pos['batch_size']
        done = min(max(pos['iter'] - epoch * per_epoch, 0), per_epoch)
        self._fhgan_skip = done * pos['batch_size']
        if done:
            # BasicSR's logger: set up by now, it writes to the run's log file
            logging.getLogger('basicsr').info(
                'fhgan_plugin: resuming inside epoch %d: skipping the %d samples (%d of %d iterations) '
                'the interrupted run already used', epoch, self._fhgan_skip, done, per_epoch)

    setattr(set_epoch, _PATCHED_ATTR, True)
    return set_epoch


def _wrap_sampler_iter(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def __iter__(self: Any) -> Any:  # noqa: N807
        skip, self._fhgan_skip = getattr(self, '_fhgan_skip', 0), 0
        indices = list(orig(self))
        return iter(indices[skip:])

    setattr(__iter__, _PATCHED_ATTR, True)
    return __iter__


def _is_basicsr_loader(fn: Any) -> bool:
    code = getattr(fn, '__code__', None)
    return code is not None and code.co_filename.replace(os.sep, '/').endswith('basicsr/train.py')


def _wrap_parse_options(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def parse_options(root_path: str, is_train: bool = True) -> tuple[dict, Any]:
        caller = sys._getframe(1).f_globals
        if _is_basicsr_loader(caller.get('load_resume_state')):
            caller['load_resume_state'] = load_resume_state
        opt, args = orig(resolve_root(root_path), is_train)
        # BasicSR seeds the RNGs *before* applying --force_yml, so `--force_yml manual_seed=1` was logged but
        # ignored (two "seeds" gave byte-identical weights). Seeding again with the final value fixes it and,
        # without an override, restores exactly the state BasicSR had set (nothing draws random numbers between).
        from basicsr.utils import set_random_seed
        set_random_seed(opt['manual_seed'] + opt['rank'])
        return opt, args

    setattr(parse_options, _PATCHED_ATTR, True)
    return parse_options


def _wrap_path_fn(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def wrapper(path: str, *args: Any, **kwargs: Any) -> Any:
        return orig(reroot(path), *args, **kwargs)

    setattr(wrapper, _PATCHED_ATTR, True)
    return wrapper


def _patch(module: Any, name: str, make: Callable[[Callable], Callable]) -> None:
    fn = getattr(module, name, None)
    if fn is None or getattr(fn, _PATCHED_ATTR, False):
        return
    setattr(module, name, make(fn))


def apply_patches() -> None:
    """Apply every patch of the module docstring (idempotent)."""
    import basicsr.data.data_sampler
    import basicsr.models.base_model
    import basicsr.utils
    import basicsr.utils.dist_util
    import basicsr.utils.logger
    import basicsr.utils.misc
    import basicsr.utils.options

    _patch(basicsr.utils.options, 'parse_options', _wrap_parse_options)
    _patch(basicsr.utils.dist_util, '_init_dist_pytorch', _wrap_init_dist_pytorch)
    _patch(basicsr.models.base_model.BaseModel, 'model_to_device', _wrap_model_to_device)
    _patch(basicsr.data.data_sampler.EnlargedSampler, 'set_epoch', _wrap_set_epoch)
    _patch(basicsr.data.data_sampler.EnlargedSampler, '__iter__', _wrap_sampler_iter)
    for name in ('save_network', 'save_training_state'):
        _patch(basicsr.models.base_model.BaseModel, name, _wrap_atomic_save)
    for mod in (basicsr.utils, basicsr.utils.misc):
        _patch(mod, 'mkdir_and_rename', _wrap_path_fn)
    for mod in (basicsr.utils, basicsr.utils.logger):
        _patch(mod, 'init_tb_logger', lambda f: _wrap_tb(f))
    for name in ('basicsr.train', 'basicsr.test'):
        mod = sys.modules.get(name)
        if mod is not None:
            mod.parse_options = basicsr.utils.options.parse_options
            for attr in ('mkdir_and_rename', 'init_tb_logger', 'make_exp_dirs'):
                if hasattr(mod, attr):
                    setattr(mod, attr, getattr(basicsr.utils, attr))
            if hasattr(mod, 'load_resume_state') and _is_basicsr_loader(mod.load_resume_state):
                mod.load_resume_state = load_resume_state


def _wrap_init_dist_pytorch(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def _init_dist_pytorch(backend: str, **kwargs: Any) -> None:
        if torch.cuda.is_available():
            return orig(backend, **kwargs)
        import torch.distributed as dist
        logger.info('fhgan_plugin: no CUDA, initialising torch.distributed with gloo instead of %s', backend)
        dist.init_process_group(backend='gloo', **kwargs)

    setattr(_init_dist_pytorch, _PATCHED_ATTR, True)
    return _init_dist_pytorch


def _wrap_model_to_device(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def model_to_device(self: Any, net: torch.nn.Module) -> torch.nn.Module:
        if self.opt.get('dist') and self.device.type == 'cpu':
            from torch.nn.parallel import DistributedDataParallel
            return DistributedDataParallel(net.to(self.device),
                                           find_unused_parameters=self.opt.get('find_unused_parameters', False))
        return orig(self, net)

    setattr(model_to_device, _PATCHED_ATTR, True)
    return model_to_device


def _wrap_atomic_save(orig: Callable) -> Callable:
    """Run a BasicSR save method with ``torch.save`` made atomic (BasicSR calls ``torch.save`` directly)."""

    @functools.wraps(orig)
    def save(self: Any, *args: Any, **kwargs: Any) -> Any:
        previous, torch.save = torch.save, atomic_torch_save
        try:
            return orig(self, *args, **kwargs)
        finally:
            torch.save = previous

    setattr(save, _PATCHED_ATTR, True)
    return save


def _wrap_tb(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def init_tb_logger(log_dir: str) -> Any:
        return orig(log_dir=reroot(log_dir))

    setattr(init_tb_logger, _PATCHED_ATTR, True)
    return init_tb_logger
