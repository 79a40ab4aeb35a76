"""The `pta` command line on mistaken and hostile input: one clear error line, never a traceback."""
from __future__ import annotations

import os
import pickle

import pytest
import torch
from train_helpers import TINY_MODEL, one_thread, tiny_overrides, write_tiny_mmfi  # noqa: F401  (autouse fixture)

from pta_core import cli
from pta_core.checkpoint import load_checkpoint, save_initial_checkpoint
from pta_core.config import load_config
from pta_core.errors import CheckpointError
from pta_core.io import atomic_write_bytes

CLASSES = tuple(f"A{i:02d}" for i in range(1, 28))


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    return code, err


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and " INFO " not in line]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("command", ["train", "pack", "eval"])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"train: {lr: [1, 2\n", "not valid YAML (line"),
        (b"\xff\xfe\x00 binary", "not UTF-8"),
        (b"train: !!python/object/apply:os.system ['echo pwned']\n", "not valid YAML"),
        (b"", "is empty"),
    ],
)
def test_a_config_that_is_not_a_config_is_one_line(tmp_path, capsys, command, content, message):
    config = tmp_path / "bad.yaml"
    config.write_bytes(content)
    extra = []
    if command == "eval":  # a real model file: the bad config is what is wrong
        save_initial_checkpoint(tmp_path / "m.pt", load_config(None, TINY_MODEL), CLASSES)
        extra = ["--checkpoint", str(tmp_path / "m.pt"), "--out", str(tmp_path / "o")]
    code, err = _run(capsys, command, "--config", str(config), *extra)
    assert code != 0 and message in _one_line(err)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.modalities=[rgb,depht]", "unknown modality ['depht']"),
        ("data.preprocess.depth_size=[0,0]", "depth_size must be positive"),
        ("train.max_steps=-5", "train.max_steps must be >= 0"),
        ("train.lr=fast", "expected a number"),
    ],
)
def test_impossible_settings_are_refused_before_any_work(capsys, override, message):
    code, err = _run(capsys, "train", "--set", override)
    assert code == 2 and message in _one_line(err)


def test_a_window_head_with_no_steps_is_refused(capsys):
    code, err = _run(capsys, "train", "--set", "activity.window=8", "--set", "activity.steps=0")
    assert code == 2 and "activity.steps must be positive" in _one_line(err)


def test_eval_of_a_checkpoint_that_does_not_fit_is_one_line(tmp_path, capsys):
    cfg = load_config(None, TINY_MODEL)
    good = tmp_path / "good.pt"
    save_initial_checkpoint(good, cfg, CLASSES)
    payload = torch.load(good, weights_only=True)
    wrong_shape = dict(payload, state_dict={k: (v[:1] if v.ndim else v) for k, v in payload["state_dict"].items()})
    not_a_dict = dict(payload, state_dict=[1, 2, 3])
    unknown = dict(payload, config={**payload["config"], "data": {**payload["config"]["data"], "modalities": ["sonar"]}})
    for name, bad in (("shape", wrong_shape), ("list", not_a_dict), ("modality", unknown)):
        path = tmp_path / f"{name}.pt"
        torch.save(bad, path)
        code, err = _run(capsys, "eval", "--checkpoint", str(path), "--out", str(tmp_path / "o"))
        assert code == 1 and str(path) in _one_line(err), name


def test_a_model_file_that_would_run_code_is_refused_without_the_unsafe_advice(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.pt"
    atomic_write_bytes(path, pickle.dumps({"format": "pta_ros.model", "x": Payload()}))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert "weights_only" not in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "pwned").exists()


def test_an_unwritable_run_folder_is_one_line_naming_it(tmp_path, capsys):
    tree = write_tiny_mmfi(tmp_path / "tree")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")  # a run folder beneath a file cannot be made, even by root
    argv = ["train"]
    for item in tiny_overrides(tree, tmp_path / "cache", blocker / "run", "train.max_steps=1"):
        argv += ["--set", item]
    code, err = _run(capsys, *argv)
    assert code == 1 and str(blocker / "run") in _one_line(err)


def test_a_full_disk_names_the_file(tmp_path, monkeypatch):
    import errno

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError) as err:
        atomic_write_bytes(tmp_path / "model.pt", b"x" * 10)
    assert "model.pt" in str(err.value) and "No space left" in str(err.value)
    assert not list(tmp_path.iterdir())  # no temporary left behind
