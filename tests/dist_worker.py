"""Run by tests/test_distributed.py under ``torch.distributed.run`` (2 CPU processes, gloo).

Initialises through BasicSR's own ``init_dist('pytorch')`` (patched by the plugin for CPU), builds the
tiny joint FHGANModel with ``dist: True``, trains 3 iterations on rank-specific batches and writes every
parameter of the three networks (and the head) to ``<out>/rank<r>.pt``.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
from basicsr.models import build_model  # noqa: E402
from basicsr.utils.dist_util import get_dist_info, init_dist  # noqa: E402

import fhgan_plugin  # noqa: E402,F401
from tests.test_models import batch, fhgan_opt  # noqa: E402


def main(out: str) -> None:
    init_dist('pytorch')
    rank, world = get_dist_info()
    torch.manual_seed(100 + rank)  # different initial weights per rank: DDP must broadcast rank 0's
    opt = fhgan_opt(out)
    opt.update(dist=True, rank=rank, world_size=world)
    model = build_model(opt)
    for it in range(1, 4):
        data = batch(labels=True)
        g = torch.Generator().manual_seed(rank * 10 + it)  # rank-specific data
        data['lq'] = torch.rand(data['lq'].shape, generator=g)
        data['gt'] = torch.rand(data['gt'].shape, generator=g)
        model.feed_data(data)
        model.optimize_parameters(it)
    state = {name: {k: v.detach().clone() for k, v in model.get_bare_model(getattr(model, name)).named_parameters()}
             for name in ('net_g', 'net_d', 'net_fr', 'net_head')}
    state['types'] = {name: type(getattr(model, name)).__name__ for name in ('net_g', 'net_d', 'net_fr', 'net_head')}
    state['log'] = {k: float(v) for k, v in model.get_current_log().items()}
    torch.save(state, os.path.join(out, f'rank{rank}.pt'))
    torch.distributed.destroy_process_group()


if __name__ == '__main__':
    main(sys.argv[1])
