"""The NumPy backend through the interface the training loop uses."""

import numpy as np
import pytest
import torch

from mlpx.backends import backend_class
from mlpx.backends.numpy import NumpyBackend
from mlpx.backends.numpy.stepping import FUSED_UPDATE_MIN, pack, update_segments
from mlpx.config import build_config
from mlpx.errors import BackendError
from mlpx.model import ModelSpec, init_params

N_TRAIN, N_VAL, FEATURES, CLASSES, BATCH = 90, 30, 6, 3, 16
_rng = np.random.default_rng(0)
DATA = {
    "train": (_rng.standard_normal((N_TRAIN, FEATURES)), _rng.integers(0, CLASSES, N_TRAIN)),
    "val": (_rng.standard_normal((N_VAL, FEATURES)), _rng.integers(0, CLASSES, N_VAL)),
    "test": (_rng.standard_normal((7, FEATURES)), None),
}


def make_config(**model):
    return build_config(
        {
            "backend": "numpy",
            "dtype": "float64",
            "seed": 3,
            "model": {"kind": "complex", "hidden": [12, 8], "dropout": 0.2} | model,
            "optimizer": {"name": "adam", "lr": 0.01, "weight_decay": 1e-3},
            "regularization": {"l2": 1e-3},
            "train": {"batch_size": BATCH},
        }
    )


def make_backend(config, backend_type=NumpyBackend):
    m = config.model
    spec = ModelSpec((FEATURES, *m.hidden, CLASSES), m.kind, m.activation, m.dropout, m.batchnorm)
    params = init_params(spec, m.init, m.init_std, seed=config.seed, dtype="float64")
    backend = backend_type(config, spec, params)
    for split, (x, y) in DATA.items():
        backend.set_data(split, x, y)
    return backend


def run_epoch(backend, epoch, lr=0.01):
    order = np.random.default_rng(epoch).permutation(N_TRAIN)
    backend.start_epoch(order)
    for start in range(0, N_TRAIN, BATCH):
        backend.train_step(start, min(start + BATCH, N_TRAIN), lr)
    return backend.end_epoch()


@pytest.mark.parametrize("backend_name", ["numpy", "torch"])
def test_an_epoch_counts_the_samples_each_step_classified_right_before_it_stepped(backend_name):
    """correct = sum over batches of argmax(scores) == y, scored in training mode by the
    weights before that batch's step: replayed here batch by batch with an oracle forward
    pass of a plain ReLU MLP (no dropout, no batch norm) on the backend's own weights."""
    config = make_config(kind="simple", dropout=0.0).model_copy(update={"backend": backend_name})
    backend = make_backend(config, backend_class(backend_name))
    x, y = DATA["train"]
    order = np.random.default_rng(5).permutation(N_TRAIN)
    backend.start_epoch(order)
    expected = 0
    for start in range(0, N_TRAIN, BATCH):
        rows = order[start : start + BATCH]
        w = backend.params()
        h = np.maximum(x[rows] @ w["W1"] + w["b1"], 0)
        h = np.maximum(h @ w["W2"] + w["b2"], 0)
        expected += int(np.sum((h @ w["W3"] + w["b3"]).argmax(1) == y[rows]))
        backend.train_step(start, min(start + BATCH, N_TRAIN), 0.05)
    stats = backend.end_epoch()
    assert stats.correct == expected
    assert 0 < expected < N_TRAIN  # the count is not trivially all or none


def test_backend_is_registered_under_numpy():
    assert backend_class("numpy") is NumpyBackend
    assert NumpyBackend.name == "numpy" and NumpyBackend.model_filename == "model.npz"


def test_an_epoch_then_evaluation_in_eval_mode():
    backend = make_backend(make_config())
    assert backend.device == "cpu"
    before = backend.params()
    stats = run_epoch(backend, epoch=0)
    assert stats.losses.dtype == np.float64 and stats.losses.shape == (6,)  # 5 full + 1 of 10
    assert np.all(np.isfinite(stats.losses))
    assert not np.array_equal(before["W1"], backend.params()["W1"])

    val = backend.evaluate("val")
    # oracle: the same weights in eval mode, scored by torch's cross-entropy
    x, y = DATA["val"]
    scores = backend.net.forward(x, train=False)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(scores), torch.from_numpy(y))
    assert val.loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_array_equal(val.predictions, scores.argmax(axis=1))
    assert val.accuracy == np.mean(val.predictions == y)
    assert backend.evaluate("val").loss == val.loss  # eval mode: no dropout, no stat updates

    test = backend.evaluate("test")
    assert test.loss is None and test.accuracy is None and test.predictions.shape == (7,)
    np.testing.assert_array_equal(backend.predict(DATA["test"][0]), test.predictions)


def test_state_round_trip_through_a_file_resumes_exactly(tmp_path):
    config = make_config()
    original = make_backend(config)
    run_epoch(original, epoch=0)
    path = tmp_path / "checkpoint.npz"
    np.savez(path, **original.state())
    with np.load(path, allow_pickle=False) as saved:
        state = dict(saved)
    assert any(key.startswith("opt/W1/") for key in state)
    continued = run_epoch(original, epoch=1)

    resumed = make_backend(config)
    resumed.load_state(state)
    replayed = run_epoch(resumed, epoch=1)
    np.testing.assert_array_equal(replayed.losses, continued.losses)  # same dropout masks
    assert replayed.correct == continued.correct
    for name, value in original.params().items():
        np.testing.assert_array_equal(resumed.params()[name], value)


def test_save_and_load_model_keep_the_given_file_name(tmp_path):
    backend = make_backend(make_config())
    run_epoch(backend, epoch=0)
    path = tmp_path / "model.npz.tmp"
    backend.save_model(path)
    assert path.exists() and not (tmp_path / "model.npz.tmp.npz").exists()
    loaded = NumpyBackend.load_model(path)
    assert set(loaded) == set(backend.params())
    for name, value in backend.params().items():
        np.testing.assert_array_equal(loaded[name], value)


def test_float32_config_keeps_float32():
    config = make_config().model_copy(update={"dtype": "float32"})
    backend = make_backend(config)
    stats = run_epoch(backend, epoch=0)
    assert stats.losses.dtype == np.float64
    assert all(value.dtype == np.float32 for value in backend.params().values())
    # the gradients too, where backprop writes them and where the rule reads them
    assert all(value.dtype == np.float32 for value in backend.net.grads.values())
    assert backend.stepper.grads.dtype == np.float32
    assert backend.evaluate("val").predictions.dtype == np.int64


def test_a_cuda_device_is_a_clear_backend_error():
    config = build_config({"backend": "torch", "device": "cuda:0"})
    spec = ModelSpec((4, 5, 3))
    with pytest.raises(BackendError, match="numpy backend.*CPU only"):
        NumpyBackend(config, spec, init_params(spec, "kaiming", 0.0, seed=0))


def test_a_batch_of_one_with_batchnorm_is_a_clear_backend_error():
    backend = make_backend(make_config())
    backend.start_epoch(np.arange(N_TRAIN))
    with pytest.raises(BackendError, match="at least 2 samples"):
        backend.train_step(0, 1, lr=0.01)


def test_an_order_outside_the_training_set_is_rejected():
    backend = make_backend(make_config(kind="simple", dropout=0.0))
    with pytest.raises(BackendError, match="indices"):
        backend.start_epoch(np.array([0, N_TRAIN]))


def test_pack_lays_weights_out_transposed_and_keeps_their_values():
    arrays = {"W1": np.arange(6.0).reshape(2, 3), "b1": np.array([7.0, 8.0, 9.0])}
    originals = {name: value.copy() for name, value in arrays.items()}
    flat, parts = pack(arrays, np.dtype("float64"))
    for name, value in arrays.items():
        np.testing.assert_array_equal(value, originals[name])
        assert np.shares_memory(value, flat)
    # W1 (2, 3) lies in memory as its (3, 2) transpose, like torch's (fan_out, fan_in)
    np.testing.assert_array_equal(flat[parts["W1"]], [0.0, 3.0, 1.0, 4.0, 2.0, 5.0])


def test_update_segments_split_at_big_layers_and_end_at_layer_one():
    for sizes, boundaries in [
        ((64, 32, 10), [1]),  # a small net: one update per step, after the whole pass
        ((784, 1000, 100, 10), [2, 1]),  # W2 + the output layer, then W1
        ((300, 300, 300, 10), [2, 1]),  # 90,300 >= 65,536 each; layer 3 joins layer 2
    ]:
        spec = ModelSpec(sizes)
        params = init_params(spec, "kaiming", 0.01, seed=0)
        flat, parts = pack(params, np.dtype("float64"))
        segments = update_segments(spec, parts, flat.size)
        assert list(segments) == boundaries
        # the segments tile the buffer, last layer first, and only the last may be small
        covered = sorted((part.start, part.stop) for part in segments.values())
        assert covered[0][0] == 0 and covered[-1][1] == flat.size
        assert all(a[1] == b[0] for a, b in zip(covered, covered[1:], strict=False))
        assert all(p.stop - p.start >= FUSED_UPDATE_MIN for i, p in segments.items() if i > 1)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop"])
def test_steps_inside_the_backward_pass_equal_one_step_after_it(optimizer):
    """A wide net steps layer by layer during backprop; the same net with the whole update
    after backprop (segments switched off) must land on the same weights."""
    spec = ModelSpec((FEATURES, 400, 200, CLASSES))
    config = build_config(
        {
            "backend": "numpy",
            "dtype": "float64",
            "model": {"hidden": [400, 200]},
            "optimizer": {"name": optimizer, "lr": 0.05},
            "regularization": {"l1": 1e-4, "l2": 1e-3},
        }
    )
    params = init_params(spec, "kaiming", 0.01, seed=0)
    fused, reference = NumpyBackend(config, spec, params), NumpyBackend(config, spec, params)
    reference.stepper.segments = {}
    assert len(fused.stepper.segments) == 2
    x, y = DATA["train"]
    for backend in (fused, reference):
        backend.set_data("train", x, y)
        for epoch in range(3):
            backend.start_epoch(np.random.default_rng(epoch).permutation(N_TRAIN))
            for start in range(0, N_TRAIN, BATCH):
                backend.train_step(start, min(start + BATCH, N_TRAIN), 0.05)
    for name, value in reference.params().items():
        np.testing.assert_allclose(fused.params()[name], value, rtol=1e-10, atol=1e-12)


def test_checkpoint_optimizer_state_is_each_parameters_own_as_torch_optim_keeps_it():
    """opt/<param>/<slot> in a checkpoint holds that parameter's state alone, in its shape:
    after an epoch of Adam, the same numbers torch.optim.Adam keeps in the torch backend
    (whose weights are (fan_out, fan_in), hence the transpose)."""
    config = make_config(kind="simple", dropout=0.0)
    states = {}
    for name in ("numpy", "torch"):
        backend = make_backend(config.model_copy(update={"backend": name}), backend_class(name))
        run_epoch(backend, epoch=0)
        states[name] = {k: v for k, v in backend.state().items() if k.startswith("opt/")}
    assert sorted(states["numpy"]) == sorted(states["torch"])
    assert len(states["numpy"]) == 3 * 6  # step, exp_avg, exp_avg_sq of W1, b1, ..., b3
    for key, value in states["numpy"].items():
        expected = states["torch"][key]
        expected = expected.T if key.split("/")[1].startswith("W") else expected
        assert value.shape == expected.shape, key
        np.testing.assert_allclose(value, expected, rtol=1e-9, atol=1e-12, err_msg=key)
