import pytest
import torch

from prism.config import DecoderConfig
from prism.models.decoder import DeepDecoder


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
    assert small.map_size == large.map_size == 48


def test_validation():
    with pytest.raises(ValueError, match=r"`obj_size` must be an integer in \[1, 64\], got 65"):
        DeepDecoder(64, 65, DecoderConfig())
    with pytest.raises(ValueError, match="`kind` must be one of"):
        DecoderConfig(kind="unet")
    with pytest.raises(ValueError, match="`channels` must be an integer > 0, got 0"):
        DecoderConfig(channels=0)
    with pytest.raises(ValueError, match="`activation` must be one of 'sigmoid', 'softplus'"):
        DecoderConfig(activation="relu")
