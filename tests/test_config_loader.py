"""Issue 18, item 2: a config loader that cannot be abused, and true messages for names,
threads and infinities; every case through the real command line."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest
from conftest import REPO
from test_datasets import one_error_line

from mlpx.config import _file_kind

BILLION_LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]"
            for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


def print_config(cli, path, *overrides: str, expect: int = 2) -> str:
    sets = [item for o in overrides for item in ("-s", o)]
    return one_error_line(cli("train", path, "--print-config", *sets, expect=expect))


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    result = subprocess.run(
        [sys.executable, "-m", "mlpx", "train", str(fifo)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        timeout=60,  # the bug: it waited for a writer forever
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {fifo}: is a named pipe (FIFO), not a regular file; give a YAML config file"
    )


def test_a_device_is_not_read(cli):
    line = print_config(cli, "/dev/zero")
    assert (
        line
        == "error: /dev/zero: is a character device, not a regular file; give a YAML config file"
    )


def test_every_kind_of_special_file_is_named_in_the_message(cli, tmp_path):
    """A FIFO and a socket given as the config (in this process, so nothing waits on them),
    and the name of every file type the stat module knows, by its mode bits."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    sock = tmp_path / "sock.yaml"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock))
        for path, kind in [(fifo, "named pipe (FIFO)"), (sock, "socket")]:
            assert print_config(cli, path) == (
                f"error: {path}: is a {kind}, not a regular file; give a YAML config file"
            )
    named = {
        stat.S_IFIFO: "named pipe (FIFO)",
        stat.S_IFCHR: "character device",
        stat.S_IFBLK: "block device",
        stat.S_IFSOCK: "socket",
        0: "special file",  # a type none of the four tests knows
    }
    for kind, name in named.items():
        assert _file_kind(kind | 0o644) == name


def test_a_huge_file_is_refused_by_its_size(cli, write_config):
    path = write_config("# " + "x" * 1_000_000 + "\nname: big\n")
    assert "larger than 1,000,000 bytes" in print_config(cli, path)


def test_a_terabyte_config_is_refused_without_reading_it_whole(tmp_path):
    """A sparse file of 1 TiB (no disk used): mlpx reads one byte past the limit, never the
    whole file, which would not fit in memory."""
    from mlpx.config import read_config_file
    from mlpx.errors import ConfigError

    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.truncate(2**40)
    with pytest.raises(ConfigError) as error:
        read_config_file(path)
    assert str(error.value) == (
        f"{path}: larger than 1,000,000 bytes; a config is a page of settings, not this"
    )


def test_a_config_of_exactly_1_000_000_bytes_is_read(tmp_path):
    from mlpx.config import read_config_file

    text = "name: big\n# " + "x" * (1_000_000 - len("name: big\n# ") - 1) + "\n"
    assert len(text.encode()) == 1_000_000
    path = tmp_path / "big.yaml"
    path.write_text(text)
    assert read_config_file(path) == {"name": "big"}


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="Linux's /proc")
def test_a_config_file_that_fails_as_it_is_read_is_one_line_naming_why():
    from mlpx.config import read_config_file
    from mlpx.errors import ConfigError

    # a regular file by stat whose read at offset 0 fails: the process's unmapped page 0
    with pytest.raises(ConfigError) as error:
        read_config_file("/proc/self/mem")
    assert str(error.value) == "/proc/self/mem: cannot read (Input/output error)"


def test_a_config_path_through_a_file_is_one_line_naming_why(tmp_path):
    from mlpx.config import read_config_file
    from mlpx.errors import ConfigError

    (tmp_path / "file").write_text("name: x\n")
    path = tmp_path / "file" / "config.yaml"  # stat: Not a directory, not "no such file"
    with pytest.raises(ConfigError) as error:
        read_config_file(path)
    assert str(error.value) == f"{path}: cannot read (Not a directory)"


def test_duplicate_keys_name_the_key_and_both_lines(cli, write_config):
    path = write_config("optimizer:\n  name: sgd\ntrain:\n  epochs: 3\noptimizer:\n  lr: 0.1\n")
    line = print_config(cli, path)
    assert line == f"error: {path}: key 'optimizer' is given twice (lines 1 and 5); keep one"
    nested = write_config("train:\n  epochs: 3\n  batch_size: 8\n  epochs: 4\n")
    assert "key 'epochs' is given twice (lines 2 and 4)" in print_config(cli, nested)


def test_a_merge_key_may_be_overridden(cli, write_config):
    path = write_config("x-base: &base {name: sgd, lr: 0.5}\noptimizer:\n  <<: *base\n  lr: 0.1\n")
    result = cli("train", path, "--print-config", expect=2)
    # the merge is YAML's, the unknown top-level key is mlpx's: no duplicate-key error
    assert "given twice" not in result.output and "x-base: unknown key" in result.output


def test_a_recursive_alias_and_a_billion_laughs_are_refused(cli, write_config):
    recursive = write_config("model: {hidden: &x [*x]}\n")
    assert "an alias refers to itself (anchor at line 1)" in print_config(cli, recursive)
    bomb = write_config(BILLION_LAUGHS)
    assert "its aliases expand to more than 100,000 values" in print_config(cli, bomb)


@pytest.mark.parametrize("padding", [94, 95])
def test_aliases_may_expand_to_100_000_values_and_not_one_more(padding):
    """Counted by hand: the root mapping, its three keys and three sequences (7), the 99
    values of a (99), b's 998 aliases of a, each a's 100 nodes again (99,800), and c's
    ``padding`` values: 99,906 + padding."""
    from mlpx.config import parse_yaml
    from mlpx.errors import ConfigError

    text = "\n".join(
        [
            f"a: &a [{','.join(['1'] * 99)}]",
            f"b: [{','.join(['*a'] * 998)}]",
            f"c: [{','.join(['2'] * padding)}]",
        ]
    )
    if 99_906 + padding <= 100_000:
        assert len(parse_yaml(text, "x.yaml")["b"]) == 998
    else:
        with pytest.raises(ConfigError, match=r"^x.yaml: its aliases expand to more than 100,000"):
            parse_yaml(text, "x.yaml")


def test_deep_nesting_is_refused_before_the_stack_runs_out(cli, write_config):
    path = write_config("model: {hidden: " + "[" * 20_000 + "]" * 20_000 + "}\n")
    assert "nested more than 50 levels deep (line 1)" in print_config(cli, path)
    line = print_config(cli, "configs/toy.yaml", "model.hidden=" + "[" * 5000 + "]" * 5000)
    assert "nested more than 50 levels deep" in line


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("optimizer.lr=.inf", "optimizer.lr: inf is not allowed; expected a finite number > 0.0"),
        ("optimizer.lr=.nan", "optimizer.lr: nan is not allowed"),
        ("regularization.l2=.inf", "regularization.l2: inf is not allowed; expected a finite"),
        ("train.clip_grad_norm=.inf", "train.clip_grad_norm: inf is not allowed"),
        (
            "optimizer.weight_decay=.inf",
            "optimizer.weight_decay: inf is not allowed; expected a finite number",
        ),
    ],
)
def test_inf_is_refused_wherever_nan_is(cli, override, expected):
    assert expected in print_config(cli, "configs/toy.yaml", override)


def test_the_name_rule_is_said_and_long_names_are_exit_2(cli, tmp_path):
    rule = "a name is 1 to 200 letters, digits, '.', '_' and '-' (it names directories)"
    line = print_config(cli, "configs/toy.yaml", "name=a/b")
    assert line == f"error: name: 'a/b' is not allowed: {rule}"
    long = "n" * 300
    line = one_error_line(cli.train("configs/toy.yaml", f"name={long}", expect=2))
    assert line == f"error: name: '{long}' is not allowed: {rule}"
    assert not cli.runs_dir.exists()


def test_threads_has_an_upper_bound(cli):
    line = print_config(cli, "configs/toy.yaml", "threads=100000")
    assert (
        line
        == "error: threads: 100000 is not allowed: threads must be auto or a number from 1 to 1024"
    )


@pytest.mark.parametrize("text", ['path: "\\ud800\\udc00"', '"\\udfff": 1'])
def test_a_lone_surrogate_escape_is_one_line_naming_where(text):
    # a YAML escape can make a string that no file name or UTF-8 file can hold
    from mlpx.config import parse_yaml
    from mlpx.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        parse_yaml(text, "where")
    assert "where: invalid YAML (line 1, column " in str(refused.value)
    assert "is half of a UTF-16 surrogate pair, not a character" in str(refused.value)
