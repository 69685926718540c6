"""Runtime patches that make BasicSR 1.4.2 work for this plugin, applied once when it is imported.

BasicSR's files are never modified. Each patch is small, idempotent and covered by a test:

1. ``torchvision.transforms.functional_tensor`` alias (``fhgan_plugin_autoload``): BasicSR imports a
   module that current torchvision removed.
2. ``parse_options`` wrapper (``basicsr.utils.options``, ``basicsr.train``, ``basicsr.test``):
   * when BasicSR's root is its *installed* folder (``python -m basicsr.train`` computes it as
     ``site-packages``), experiments, results and tb_logger go to the current working directory instead;
   * it swaps ``load_resume_state`` for :func:`load_resume_state` below (and wraps
     ``create_train_val_dataloader``) in BasicSR's training script: the ``basicsr.train`` module and, for
     ``python -m basicsr.train`` / ``python basicsr/train.py``, the ``__main__`` module that is that script
     (it defines its own copies after the plugin was imported, so they are swapped when it calls
     ``parse_options``). Only functions defined in ``basicsr/train.py`` are replaced;
   * it seeds the RNGs again with the final ``manual_seed``: BasicSR seeds before it applies
     ``--force_yml``, so ``--force_yml manual_seed=1`` was logged but not used.
3. :func:`load_resume_state`: BasicSR's calls ``torch.cuda.current_device()`` and maps every tensor to
   CUDA, which crashes on CPU; this one maps to CUDA only when ``num_gpu > 0`` and CUDA is there, finds
   ``--auto_resume`` states under the experiment's own ``training_states`` folder (BasicSR looks in a
   cwd-relative ``experiments/``), and loads the state with ``weights_only=True`` (tensors, numbers and
   containers only: a planted ``.state`` cannot run code). ``--auto_resume`` takes the newest *complete pair*:
   a state whose networks ``net_<x>_<iter>.pth`` cannot be read is skipped with a warning naming the file.
4. ``mkdir_and_rename`` / ``init_tb_logger`` wrappers: re-root a path under the installed BasicSR
   folder to the working directory (``train_pipeline`` keeps its own ``root_path`` for tb_logger).
5. ``--launcher pytorch`` without CUDA: BasicSR's ``_init_dist_pytorch`` calls ``torch.cuda.set_device``
   and asks for NCCL; on a machine without CUDA it now initialises the ``gloo`` backend instead, and
   ``BaseModel.model_to_device`` wraps with ``DistributedDataParallel`` without ``device_ids``.
6. Checked, atomic checkpoints: ``BaseModel.save_network`` and ``save_training_state`` are replaced by
   versions that write through :func:`fhgan_plugin.utils.io.save_torch` (``<file>.tmp`` renamed into place,
   so a run killed while saving never leaves a truncated ``.pth``/``.state``) and, where BasicSR logs "Still
   cannot save … Just ignore it" and trains on, raise :class:`~fhgan_plugin.errors.WriteError` naming the
   file: a failed save stops training with a non-zero exit. ``BaseModel.load_network`` reads through
   :func:`fhgan_plugin.utils.checkpoint.read_checkpoint` (``weights_only=True``, an error naming the file).
   :func:`load_resume_state` also skips (with a warning) a newest ``.state`` that cannot be read, e.g. one
   a non-patched writer left truncated, and resumes from the newest readable one.
7. Mid-epoch resume: BasicSR's ``EnlargedSampler`` shuffles with the epoch number as seed and a resumed run
   restarts its epoch from the first batch, so a run stopped at iteration 600 of an 847-iteration epoch and
   resumed replays the same 4,800 images and never sees the other ones. :func:`load_resume_state` records
   the resumed (epoch, iteration, batch size) and the patched ``EnlargedSampler.set_epoch`` skips, in that
   epoch only, the samples the earlier run already consumed, so a resumed run sees the same images, in the
   same order, as an uninterrupted one (random augmentations such as flips are not replayed).
8. Safe option files: ``ordered_yaml`` returns a ``SafeLoader`` (with BasicSR's OrderedDict mappings; ``!!float``
   and every standard tag still work), so a ``!!python/object/apply`` tag in an options file is an error
   instead of running code. ``parse_options`` also checks the ``path:`` keys (a misspelt
   ``pretrain_netwrok_g`` would train from scratch and create a folder of that name) and that every
   ``pretrain_network_<x>`` exists.
9. Iterations per epoch: BasicSR computes the epoch count with ``ceil(images / batch)`` iterations per epoch
   while its loader drops the last incomplete batch, so a run on a small set stopped short of ``total_iter``
   without a word; the epoch count is recomputed from the loader's real length (and a batch larger than the
   training set is an error).
"""
from __future__ import annotations

import functools
import logging
import math
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
import yaml

from fhgan_plugin.errors import CheckpointError, OptionError, WriteError
from fhgan_plugin.utils.checkpoint import read_checkpoint
from fhgan_plugin.utils.io import save_torch

logger = logging.getLogger('fhgan_plugin')


class _RunLog:
    """Where the patches' messages go: BasicSR's logger once the run has set it up (so they reach the run's log
    file), else the plugin's logger. BasicSR resumes *before* it creates its log file, so messages of that time are
    also kept and written into the run's log as soon as it exists (:func:`_wrap_dataloaders`)."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, str, tuple]] = []

    @staticmethod
    def current() -> logging.Logger:
        """BasicSR's logger if a run has set it up, else the plugin's."""
        run_logger = logging.getLogger('basicsr')
        return run_logger if run_logger.handlers else logger

    def log(self, level: int, msg: str, *args: Any) -> None:
        target = self.current()
        target.log(level, msg, *args)
        if target is logger:
            self.pending.append((level, msg, args))

    def info(self, msg: str, *args: Any) -> None:
        self.log(logging.INFO, msg, *args)

    def warning(self, msg: str, *args: Any) -> None:
        self.log(logging.WARNING, msg, *args)

    def flush_into(self, run_logger: logging.Logger) -> None:
        for level, msg, args in self.pending:
            run_logger.log(level, msg, *args)
        self.pending.clear()


_RUN_LOG = _RunLog()


def _log() -> _RunLog:
    return _RUN_LOG

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


def _read_state(path: str, device: torch.device) -> dict[str, Any]:
    state = read_checkpoint(path, map_location=device)
    if not isinstance(state, dict) or 'iter' not in state:
        raise CheckpointError(f'{path} is not a BasicSR training state (no "iter")')
    return state


def resume_networks(opt: dict[str, Any], it: int) -> list[str]:
    """The network files BasicSR's ``check_resume`` will load for a resume from iteration ``it``."""
    ignore = opt['path'].get('ignore_resume_networks') or []
    return [os.path.join(opt['path']['models'], f'net_{key[len("network_"):]}_{it}.pth')
            for key in opt if key.startswith('network_') and key not in ignore]


def _check_networks(opt: dict[str, Any], it: int) -> None:
    """Raise CheckpointError naming the first network file of iteration ``it`` that exists but cannot be read
    (a missing one is the model's business: e.g. a recognition model has no ``net_g``)."""
    for path in resume_networks(opt, it):
        if os.path.isfile(path):
            read_checkpoint(path)


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
                _check_networks(opt, it)
                break
            except CheckpointError as err:
                state = None
                _log().warning('fhgan_plugin: cannot resume from iteration %d: %s; trying an older checkpoint',
                               it, err)
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
    _log().info('fhgan_plugin: resuming from %s (iter %d) on %s', path, state['iter'], device)
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
        _RUN_LOG.pending.clear()  # a new run: earlier messages belong to no run's log
        for module in (sys.modules.get('basicsr.train'), sys.modules.get('__main__')):
            if module is not None:
                _swap_train_functions(vars(module))
        opt, args = orig(resolve_root(root_path), is_train)
        check_path_options(opt)
        # BasicSR seeds the RNGs *before* applying --force_yml, so `--force_yml manual_seed=1` was logged but
        # ignored (two "seeds" gave byte-identical weights). Seeding again with the final value fixes it and,
        # without an override, restores exactly the state BasicSR had set (nothing draws random numbers between).
        from basicsr.utils import set_random_seed
        set_random_seed(opt['manual_seed'] + opt['rank'])
        return opt, args

    setattr(parse_options, _PATCHED_ATTR, True)
    return parse_options


def _swap_train_functions(namespace: dict[str, Any]) -> None:
    """Replace BasicSR's ``load_resume_state`` and wrap ``create_train_val_dataloader`` in ``basicsr/train.py``'s
    namespace (``python basicsr/train.py`` runs it as ``__main__``, defining its own copies)."""
    if _is_basicsr_loader(namespace.get('load_resume_state')):
        namespace['load_resume_state'] = load_resume_state
    fn = namespace.get('create_train_val_dataloader')
    if _is_basicsr_loader(fn) and not getattr(fn, _PATCHED_ATTR, False):
        namespace['create_train_val_dataloader'] = _wrap_dataloaders(fn)


def _wrap_dataloaders(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def create_train_val_dataloader(opt: dict[str, Any], log: logging.Logger) -> tuple:
        _RUN_LOG.flush_into(log)  # the resume messages, logged before BasicSR created the run's log file
        train_loader, train_sampler, val_loaders, total_epochs, total_iters = orig(opt, log)
        per_epoch = len(train_loader)  # BasicSR's train loader drops the last incomplete batch
        if per_epoch == 0:
            raise OptionError(f"datasets.train.batch_size_per_gpu ({opt['datasets']['train']['batch_size_per_gpu']})"
                              f' is larger than the training set ({len(train_sampler)} samples per epoch and '
                              'process): lower it or enlarge the set (dataset_enlarge_ratio)')
        epochs = math.ceil(total_iters / per_epoch)
        if epochs != total_epochs:
            log.info('fhgan_plugin: %d iterations per epoch (the last incomplete batch is dropped), so %d epochs '
                     'reach total_iter %d (BasicSR computed %d)', per_epoch, epochs, total_iters, total_epochs)
        return train_loader, train_sampler, val_loaders, epochs, total_iters

    setattr(create_train_val_dataloader, _PATCHED_ATTR, True)
    return create_train_val_dataloader


#: ``path:`` keys BasicSR fills in or reads itself; ``<prefix>_<x>`` keys need a ``network_<x>``.
PATH_KEYS = ('experiments_root', 'models', 'training_states', 'log', 'visualization', 'results_root',
             'resume_state', 'ignore_resume_networks')
NETWORK_PATH_PREFIXES = ('pretrain_network_', 'strict_load_', 'param_key_')


def check_path_options(opt: dict[str, Any]) -> None:
    """Every ``path:`` key is one BasicSR reads, and every ``pretrain_network_<x>`` file exists.

    Raises:
        OptionError: naming the unknown key (with the valid ones) or the missing file.
    """
    labels = sorted(k[len('network_'):] for k in opt if k.startswith('network_'))
    valid = list(PATH_KEYS) + [p + x for x in labels for p in NETWORK_PATH_PREFIXES]
    for key, value in (opt.get('path') or {}).items():
        if key not in valid:
            raise OptionError(f'unknown option path.{key}; valid keys: {", ".join(valid)}')
        if key.startswith('pretrain_network_') and value is not None and not os.path.isfile(value):
            raise OptionError(f'path.{key}: no such file {value!r}')


def safe_ordered_yaml() -> tuple[type, type]:
    """BasicSR's ``ordered_yaml`` on PyYAML's *safe* loader and dumper (mappings stay OrderedDicts)."""
    loader_base = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
    dumper_base = getattr(yaml, 'CSafeDumper', yaml.SafeDumper)

    class Loader(loader_base):  # type: ignore[misc,valid-type]
        pass

    class Dumper(dumper_base):  # type: ignore[misc,valid-type]
        pass

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                           lambda loader, node: OrderedDict(loader.construct_pairs(node)))
    Dumper.add_representer(OrderedDict, lambda dumper, data: dumper.represent_dict(data.items()))
    return Loader, Dumper


def _wrap_ordered_yaml(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def ordered_yaml() -> tuple[type, type]:
        return safe_ordered_yaml()

    setattr(ordered_yaml, _PATCHED_ATTR, True)
    return ordered_yaml


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
    _patch(basicsr.utils.options, 'ordered_yaml', _wrap_ordered_yaml)
    _patch(basicsr.utils.dist_util, '_init_dist_pytorch', _wrap_init_dist_pytorch)
    _patch(basicsr.models.base_model.BaseModel, 'model_to_device', _wrap_model_to_device)
    _patch(basicsr.data.data_sampler.EnlargedSampler, 'set_epoch', _wrap_set_epoch)
    _patch(basicsr.data.data_sampler.EnlargedSampler, '__iter__', _wrap_sampler_iter)
    _patch(basicsr.models.base_model.BaseModel, 'save_network', lambda f: _mark(save_network))
    _patch(basicsr.models.base_model.BaseModel, 'save_training_state', _wrap_save_training_state)
    _patch(basicsr.models.base_model.BaseModel, 'load_network', _wrap_load_network)
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
            _swap_train_functions(vars(mod))


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


def _mark(fn: Callable) -> Callable:
    setattr(fn, _PATCHED_ATTR, True)
    return fn


def save_with_retry(obj: Any, path: str, retries: int = 3, wait_s: float = 1.0) -> None:
    """:func:`~fhgan_plugin.utils.io.save_torch` with BasicSR's retries; after the last one the error is raised.

    Raises:
        WriteError: naming ``path`` (BasicSR logs "Just ignore it" and trains on without a checkpoint).
    """
    for attempt in range(retries):
        try:
            return save_torch(obj, path)
        except WriteError as err:
            if attempt == retries - 1:
                raise WriteError(f'{err}: stopping training (the last complete checkpoint is kept)', path,
                                 err.errno) from err
            _log().warning('fhgan_plugin: %s, retrying (%d left)', err, retries - 1 - attempt)
            time.sleep(wait_s)


def save_network(self: Any, net: Any, net_label: str, current_iter: int, param_key: Any = 'params') -> None:
    """BasicSR's ``BaseModel.save_network`` (same file and keys) with a checked, atomic write."""
    label = 'latest' if current_iter == -1 else current_iter
    path = os.path.join(self.opt['path']['models'], f'{net_label}_{label}.pth')
    nets = net if isinstance(net, list) else [net]
    keys = param_key if isinstance(param_key, list) else [param_key]
    if len(nets) != len(keys):
        raise ValueError('save_network: the lengths of net and param_key should be the same')
    save_dict = {}
    for net_, key in zip(nets, keys):
        state = self.get_bare_model(net_).state_dict()
        save_dict[key] = {(k[7:] if k.startswith('module.') else k): v.cpu() for k, v in state.items()}
    save_with_retry(save_dict, path)


def _wrap_save_training_state(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def save_training_state(self: Any, epoch: int, current_iter: int) -> None:
        if current_iter == -1:
            return
        state = {'epoch': epoch, 'iter': current_iter, 'optimizers': [o.state_dict() for o in self.optimizers],
                 'schedulers': [s.state_dict() for s in self.schedulers]}
        save_with_retry(state, os.path.join(self.opt['path']['training_states'], f'{current_iter}.state'))

    # BasicSR decorates it with @master_only: keep that (only rank 0 writes)
    from basicsr.utils.dist_util import master_only
    return _mark(master_only(save_training_state))


def _wrap_load_network(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def load_network(self: Any, net: Any, load_path: str, strict: bool = True,
                     param_key: str | None = 'params') -> None:
        from basicsr.utils import get_root_logger
        state = read_checkpoint(load_path)
        if param_key is not None:
            if param_key not in state and 'params' in state:
                param_key = 'params'
                get_root_logger().info('Loading: params_ema does not exist, use params.')
            if param_key not in state:
                raise CheckpointError(f'{load_path} holds no {param_key!r} (keys: {sorted(state)[:10]})')
            state = state[param_key]
        net = self.get_bare_model(net)
        get_root_logger().info(f'Loading {net.__class__.__name__} model from {load_path}, with param key: '
                               f'[{param_key}].')
        state = OrderedDict((k[7:] if k.startswith('module.') else k, v) for k, v in state.items())
        self._print_different_keys_loading(net, state, strict)
        net.load_state_dict(state, strict=strict)

    return _mark(load_network)


def _wrap_tb(orig: Callable) -> Callable:

    @functools.wraps(orig)
    def init_tb_logger(log_dir: str) -> Any:
        return orig(log_dir=reroot(log_dir))

    setattr(init_tb_logger, _PATCHED_ATTR, True)
    return init_tb_logger
