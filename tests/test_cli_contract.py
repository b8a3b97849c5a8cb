"""The ``facechain`` command's contract, across every command: help texts, exit codes, no progress bar
before an argument error, and a start-up without torch.

Every case fails before heavy work (no model is trained or loaded); the whole file runs in well under a
minute on one core.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

import facechain
from facechain.cli import build_parser, main
from facechain.cli.common import HelpFormatter
from facechain.errors import BadArguments, EnvironmentProblem, ExitCode, FacechainError, NothingUsable

CONSOLE_SCRIPT = Path(sys.executable).with_name("facechain")
EMPTY_DEFAULTS = ("(default: None)", "(default: False)", "(default: [])", "(default: ())", "(default: )")


@pytest.fixture(autouse=True)
def empty_home(tmp_path, monkeypatch):
    """An empty FACECHAIN_HOME and none of the user's FACECHAIN_* settings."""
    for name in [n for n in os.environ if n.startswith("FACECHAIN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FACECHAIN_HOME", str(tmp_path / "home"))


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[1],
        env={**os.environ, "OMP_NUM_THREADS": "1", **env},
    )


# ---------------------------------------------------------------------------------------------- help texts


def all_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """(command path, parser) for the root and every command and sub-command, nested ones included."""
    found = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        found.append((path, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{path} {name}")

    walk(build_parser(), "facechain")
    return found


PARSERS = all_parsers()
PARSER_IDS = [path for path, _ in PARSERS]


def own_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def expanded_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help text of ``action`` exactly as --help shows it (default appended and filled in), unwrapped."""
    return HelpFormatter(parser.prog)._expand_help(action)


def rendered_entries(text: str) -> dict[str, str]:
    """The option entries of a rendered --help: first option string -> its help text, lines joined."""
    entries: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        start = re.match(r"^  (-[^\s,]+)", line)
        if start:
            current = start.group(1)
            entries[current] = line
        elif current and line.startswith("   "):
            entries[current] += " " + line.strip()
        else:
            current = None
    return {key: re.sub(r"\s+", " ", value) for key, value in entries.items()}


def test_the_tree_holds_every_command_group_with_its_nested_commands():
    assert {
        "facechain prepare",
        "facechain example-photos",
        "facechain train",
        "facechain generate",
        "facechain styles",
        "facechain motion train",
        "facechain motion eval",
        "facechain motion predict",
        "facechain lab list",
        "facechain lab run",
    } <= set(PARSER_IDS)


@pytest.mark.parametrize("path, parser", PARSERS, ids=PARSER_IDS)
def test_every_command_has_a_description_and_every_option_a_help(path, parser):
    assert parser.description and parser.description.strip(), f"{path} has no description"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            # the container itself shows only its metavar; each sub-command's line carries the help
            listed = {entry.dest: entry.help for entry in action._choices_actions}
            assert set(listed) == set(action.choices), f"{path}: a sub-command is missing from the list"
            assert all(text and text.strip() for text in listed.values()), (
                f"{path}: a sub-command has no help: {listed}"
            )
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), f"{path} {name} has no help"


@pytest.mark.parametrize("path, parser", PARSERS, ids=PARSER_IDS)
def test_defaults_are_shown_only_when_they_say_something_and_required_options_say_so(path, parser):
    text = parser.format_help()
    for empty in EMPTY_DEFAULTS:
        assert empty not in text, f"`{path} --help` shows {empty}"
    entries = rendered_entries(text)
    for action in own_actions(parser):
        name = "/".join(action.option_strings) or action.dest
        shown = expanded_help(parser, action)
        assert shown.strip(), f"{path} {name}: empty help"
        assert not any(empty in shown for empty in EMPTY_DEFAULTS), f"{path} {name}: {shown!r}"
        assert len(re.findall(r"default", shown, re.IGNORECASE)) <= 1, f"{path} {name} names a default twice: {shown!r}"
        if action.required and action.option_strings:
            assert shown.endswith("(required)") and "(default:" not in shown, f"{path} {name}: {shown!r}"
        else:
            assert "(required)" not in shown, f"{path} {name} is optional but says required: {shown!r}"
        if action.option_strings:
            entry = entries[action.option_strings[0]]  # what the user reads, wrapped over lines and joined
            assert len(re.findall(r"default", entry, re.IGNORECASE)) <= 1, f"{path}: {entry!r}"
            assert entry.endswith(re.sub(r"\s+", " ", shown).strip()), f"{path}: {entry!r} vs {shown!r}"


def test_a_default_that_says_something_is_shown_with_its_value():
    parser = dict(PARSERS)["facechain train"]
    entries = rendered_entries(parser.format_help())
    assert entries["--epochs"].endswith("(default: 200)")
    assert entries["--out"].endswith("(required)")
    assert "(default:" not in entries["--tiny"]  # a flag
    assert entries["--steps"].count("default") == 1  # its help names the default itself


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"]], ids=" ".join)
def test_the_console_script_prints_help_and_exits_0(argv):
    done = subprocess.run([str(CONSOLE_SCRIPT), *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: facechain") and not done.stderr
    assert "exit codes:" in done.stdout if argv == ["--help"] else "(required)" in done.stdout


# ---------------------------------------------------------------------------------------------- exit code 3


@pytest.mark.parametrize(
    "argv, named",
    [
        (["train", "DATASET", "--out", "X", "--no-such-option"], "--no-such-option"),
        (["train", "DATASET"], "--out"),
        (["prepare", "photos"], "--out"),
        (["motion", "train"], "--out"),
        (["train", "DATASET", "--out", "X", "--steps", "many"], "--steps"),
        (["generate", "MODEL", "--out", "X", "--scheduler", "nope"], "--scheduler"),
        (["no-such-command"], "no-such-command"),
        ([], "COMMAND"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_argparse_errors_exit_3(argv, named, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == ExitCode.BAD_ARGUMENTS == 3
    err = capsys.readouterr().err
    assert "error:" in err and named in err


@pytest.mark.parametrize(
    "option, value", [("--steps", "0"), ("--steps", "-1"), ("--resolution", "7"), ("--seed", str(2**70))]
)
def test_train_refuses_a_bad_number_with_one_line_naming_the_option(option, value, tmp_path, capsys):
    (tmp_path / "data").mkdir()
    assert main(["train", str(tmp_path / "data"), "--out", str(tmp_path / "model"), option, value]) == 3
    printed = capsys.readouterr()
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and option in lines[0], printed.err
    assert value in lines[0]
    assert not (tmp_path / "model").exists()


@pytest.fixture
def fake_model(tmp_path) -> Path:
    """A folder that is not a trained model: the request check must refuse a bad value before opening it."""
    folder = tmp_path / "model"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("option, value, named", [("--steps", "0", "steps"), ("--seed", str(2**70), "seed")])
def test_generate_checks_the_request_before_loading_anything(option, value, named, fake_model, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", str(fake_model), "--out", str(out), option, value]) == 3
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert named in lines[0] and value in lines[0] and "training.json" not in err  # the request, not the folder
    # no progress bar was drawn before the argument error
    assert "generate:" not in err and "it/s" not in err and "image/s" not in err
    assert not out.exists()


def test_prepare_refuses_a_huge_trigger_without_echoing_it(tmp_path, capsys):
    trigger = "a" * 10_000
    assert main(["prepare", str(tmp_path), "--out", str(tmp_path / "out"), "--trigger", trigger]) == 3
    err = capsys.readouterr().err
    assert "--trigger" in err or "trigger" in err
    assert len(err) < 500 and "10000 characters" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------- exit code 2


@pytest.fixture
def cats(tmp_path) -> Path:
    from skimage import data

    folder = tmp_path / "cats"
    folder.mkdir()
    Image.fromarray(data.chelsea()).save(folder / "chelsea.jpg", quality=90)
    return folder


def test_prepare_with_no_usable_photo_exits_2_with_the_reasons_and_no_empty_bar(cats, tmp_path, capsys):
    assert main(["prepare", str(cats), "--out", str(tmp_path / "out"), "--backend", "dlib"]) == 2
    printed = capsys.readouterr()
    assert "chelsea.jpg" in printed.err and "no face found" in printed.err  # the table: each photo, its reason
    errors = [line for line in printed.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no face found" in errors[0]
    assert not re.search(r"(?<![\d.])0photo", printed.err) and "0/0" not in printed.err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------- exit code 4


@pytest.fixture
def dataset(tmp_path) -> Path:
    """A valid prepared-style dataset, by hand: two crops, metadata.jsonl and report.json."""
    from facechain.examples import astronaut

    folder = tmp_path / "dataset"
    (folder / "images").mkdir(parents=True)
    person = astronaut().resize((64, 64))
    lines = []
    for i in range(2):
        person.rotate(5 * i).save(folder / "images" / f"{i:03d}.png")
        lines.append(json.dumps({"file_name": f"images/{i:03d}.png", "text": "sks, a woman"}))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "report.json").write_text(json.dumps({"trigger": "sks", "class_phrase": "a woman"}))
    return folder


def test_train_offline_without_the_base_model_is_an_environment_problem(dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "model"
    assert main(["train", str(dataset), "--out", str(out), "--base-model", "someone/not-cached", "--steps", "1"]) == 4
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "someone/not-cached" in errors[0] and "HF_HUB_OFFLINE" in errors[0]
    assert "Traceback" not in err and "train:" not in err  # no bar before the failure
    assert not (out / "pytorch_lora_weights.safetensors").exists()


# ---------------------------------------------------------------------------------------------- exit code 1


def broken(*args, **kwargs):
    return 1 / 0


def prepare_module():
    """``facechain.portrait.dataset.prepare`` the module: the package's attribute of that name is the function."""
    import facechain.portrait  # noqa: F401  (imports the submodule)

    return sys.modules["facechain.portrait.dataset.prepare"]


def test_a_bug_deep_inside_a_command_is_not_turned_into_an_error_line(cats, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(prepare_module(), "load_analyzer", broken)
    with pytest.raises(ZeroDivisionError):
        main(["prepare", str(cats), "--out", str(tmp_path / "out")])
    assert "error:" not in capsys.readouterr().err


def test_a_bug_in_a_command_function_propagates(tmp_path, monkeypatch):
    # set_defaults(run=run_prepare) reads the module attribute when main builds the parser
    monkeypatch.setattr("facechain.cli.prepare.run_prepare", broken)
    with pytest.raises(ZeroDivisionError):
        main(["prepare", str(tmp_path), "--out", str(tmp_path / "out")])


def test_an_interruption_exits_130(cats, tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prepare_module(), "load_analyzer", interrupted)
    assert main(["prepare", str(cats), "--out", str(tmp_path / "out")]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_a_bug_exits_1_with_its_traceback_in_a_real_process(cats, tmp_path):
    done = run_python(
        f"""
        import sys
        import facechain.portrait
        from facechain.cli import main

        prepare = sys.modules["facechain.portrait.dataset.prepare"]  # (facechain.portrait.prepare is the function)

        def broken(*args, **kwargs):
            return 1 / 0

        prepare.load_analyzer = broken
        sys.exit(main(["prepare", {str(cats)!r}, "--out", {str(tmp_path / "out")!r}]))
    """,
        FACECHAIN_HOME=str(tmp_path / "home"),
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" in done.stderr and "ZeroDivisionError" in done.stderr
    assert not any(line.startswith("error:") for line in done.stderr.splitlines())


# ------------------------------------------------------------------------------------- the error family


def facechain_errors() -> set[type]:
    for module in pkgutil.walk_packages(facechain.__path__, "facechain."):
        if module.name.rsplit(".", 1)[-1] != "__main__":  # facechain.cli.__main__ runs the command
            importlib.import_module(module.name)

    def below(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    return {cls for cls in below(FacechainError) if cls.__module__.startswith("facechain.")}


def test_every_facechain_error_has_a_documented_exit_code_and_category():
    found = facechain_errors()
    names = {cls.__name__ for cls in found}
    assert {"NoUsablePhotos", "BaseModelUnavailable", "GenerationError", "TrainingError", "JobCancelled"} <= names
    wrong = []
    for cls in sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}"):
        code = cls.exit_code
        where = f"{cls.__module__}.{cls.__qualname__} (exit code {int(code)})"
        if cls.__name__ == "JobCancelled":
            if code != ExitCode.INTERRUPTED:
                wrong.append(where)
            continue
        categories = [base for base in (BadArguments, NothingUsable, EnvironmentProblem) if issubclass(cls, base)]
        if (
            not isinstance(code, ExitCode)
            or code not in (2, 3, 4, 130)
            or len(categories) != 1
            or code != categories[0].exit_code
        ):
            wrong.append(f"{where}: {[c.__name__ for c in categories]}")
    assert not wrong, wrong


# ------------------------------------------------------------------------------------ start-up without torch


HEAVY = ("torch", "diffusers", "transformers", "accelerate", "gradio")


def test_help_starts_without_torch():
    done = run_python(f"""
        import sys
        from facechain.cli import main
        try:
            main(["--help"])
        except SystemExit as stop:
            print("exit", stop.code)
        print("loaded", [name for name in {HEAVY!r} if name in sys.modules])
    """)
    assert done.returncode == 0, done.stderr
    assert "exit 0" in done.stdout and "loaded []" in done.stdout, done.stdout[-500:]


def test_prepare_parses_and_imports_without_torch(tmp_path):
    done = run_python(f"""
        import sys
        from facechain.cli import build_parser
        import facechain.cli.prepare
        import facechain.portrait.dataset.prepare

        args = build_parser().parse_args(["prepare", {str(tmp_path)!r}, "--out", {str(tmp_path / "out")!r}])
        assert args.run is facechain.cli.prepare.run_prepare
        print("loaded", [name for name in {HEAVY!r} if name in sys.modules])
    """)
    assert done.returncode == 0, done.stderr
    assert "loaded []" in done.stdout, done.stdout
