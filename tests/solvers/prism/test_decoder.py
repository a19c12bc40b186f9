import math

import pytest
import torch

from prism.solvers.prism import resolve
from prism.solvers.prism.decoder import DecoderEnsemble, DeepDecoder, member_seed
from prism.solvers.prism.settings import LATENT_PIXELS, DecoderConfig, PrismConfig, upsampling_depth


@pytest.mark.parametrize("kind", ["upsample", "transposed"])
@pytest.mark.parametrize("obj_size", [16, 33, 73])
def test_output_is_the_nonnegative_object_square(kind, obj_size):
    model = DeepDecoder(128, obj_size, DecoderConfig(kind=kind))
    out = model()
    assert out.shape == (1, 1, obj_size, obj_size) and out.dtype == torch.float32
    assert model.map_size >= obj_size
    assert (out > 0).all() and (out <= 1).all()


def test_softplus_output_is_nonnegative_and_unbounded():
    model = DeepDecoder(64, 32, DecoderConfig(activation="softplus"))
    with torch.no_grad():
        model.net[-2].bias.fill_(5.0)
    out = model()
    assert (out >= 0).all() and out.max() > 1


@pytest.mark.parametrize("learned", [False, True])
def test_latent_is_trained_only_when_learned(learned):
    model = DeepDecoder(64, 32, DecoderConfig(learned_latent=learned))
    trained = {name for name, _ in model.named_parameters()}
    assert ("latent" in trained) is learned
    assert "latent" in model.state_dict()
    same = DeepDecoder(64, 32, DecoderConfig(learned_latent=not learned))
    assert torch.equal(model(), same())


def test_seed_sets_weights_and_latent():
    first = DeepDecoder(64, 32, DecoderConfig(seed=1))
    again = DeepDecoder(64, 32, DecoderConfig(seed=1))
    other = DeepDecoder(64, 32, DecoderConfig(seed=2))
    assert torch.equal(first(), again())
    assert not torch.equal(first(), other())


def test_the_global_rng_is_untouched():
    state = torch.get_rng_state()
    DeepDecoder(64, 32, DecoderConfig())
    assert torch.equal(state, torch.get_rng_state())


def test_cost_follows_the_object_not_the_grid():
    small = DeepDecoder(64, 40, DecoderConfig())
    large = DeepDecoder(1024, 40, DecoderConfig())
    assert small.map_size == large.map_size == 40  # two stages from a 10-pixel latent


def test_validation():
    with pytest.raises(ValueError, match=r"`obj_size` must be an integer in \[1, 64\], got 65"):
        DeepDecoder(64, 65, DecoderConfig())
    with pytest.raises(ValueError, match="`kind` must be one of"):
        DecoderConfig(kind="unet")
    with pytest.raises(ValueError, match="`channels` must be an integer > 0, got 0"):
        DecoderConfig(channels=0)
    with pytest.raises(ValueError, match="`activation` must be one of 'sigmoid', 'softplus'"):
        DecoderConfig(activation="relu")


@pytest.mark.parametrize(
    "obj_size, depth, latent",
    [(16, 1, 8), (18, 1, 9), (32, 2, 8), (48, 2, 12), (64, 3, 8), (73, 3, 10), (256, 5, 8)],
)
def test_the_default_latent_is_nearest_10_pixels(obj_size, depth, latent):
    assert upsampling_depth(obj_size) == depth
    model = DeepDecoder(256, obj_size, DecoderConfig())
    assert model.latent.shape[-1] == latent and model.map_size == latent * 2**depth
    for other in (depth - 1, depth + 1):  # one stage fewer or more: further from 10 pixels
        if other >= 1:
            ratio = abs(math.log2(obj_size / 2**other / LATENT_PIXELS))
            assert ratio >= abs(math.log2(obj_size / 2**depth / LATENT_PIXELS))


def test_resolve_records_the_depth_a_fit_uses(problem):
    data = problem.data  # a 32-pixel object: two stages from an 8-pixel latent
    resolved = resolve(PrismConfig(), data)
    assert resolved.decoder.depth == 2
    kept = resolve(PrismConfig(decoder=DecoderConfig(depth=4)), data)
    assert kept.decoder.depth == 4
    transposed = resolve(PrismConfig(decoder=DecoderConfig(kind="transposed")), data)
    assert transposed.decoder.depth is None  # its stages follow its 1x1 latent


def test_an_ensembles_first_member_is_the_decoder_of_its_seed():
    config = DecoderConfig(seed=3, members=3)
    ensemble = DecoderEnsemble(64, 32, config)
    alone = DeepDecoder(64, 32, DecoderConfig(seed=3))
    out = ensemble()
    assert out.shape == (3, 1, 32, 32)
    assert torch.equal(out[:1], alone())
    assert not torch.allclose(out[1], out[2]) and not torch.allclose(out[0], out[1])


def test_member_seeds_of_one_study_seed_repeat_no_other_seeds_members():
    seeds = {member_seed(seed, k) for seed in range(20) for k in range(4)}
    assert len(seeds) == 80
    assert member_seed(7, 0) == 7


def test_ensemble_members_share_no_parameters():
    ensemble = DecoderEnsemble(64, 32, DecoderConfig(members=2))
    first, second = (set(map(id, m.parameters())) for m in ensemble.members)
    assert first and not first & second


def test_a_member_count_below_one_is_refused():
    with pytest.raises(ValueError, match="`members` must be an integer > 0, got 0"):
        DecoderConfig(members=0)
