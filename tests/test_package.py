"""The package's public surface: importing any submodule never replaces a public name, and
`ebt_core.__all__` lists only names that exist and that users call (no loop internals)."""

import importlib
import pkgutil

import ebt_core as ebt


def _submodules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(ebt.__path__, prefix="ebt_core.")]


def test_importing_every_submodule_leaves_every_public_name_alone():
    before = {name: getattr(ebt, name) for name in ebt.__all__}
    for name in _submodules():
        if name.endswith("__main__"):
            continue  # running it is the CLI, not an import
        importlib.import_module(name)
    for name, value in before.items():
        assert getattr(ebt, name) is value, f"importing a submodule replaced ebt_core.{name}"


def test_no_top_level_submodule_is_named_like_a_public_name():
    top_level = {name.split(".")[1] for name in _submodules()}
    assert not top_level & set(ebt.__all__), top_level & set(ebt.__all__)


def test_all_lists_existing_user_facing_names_only():
    assert len(set(ebt.__all__)) == len(ebt.__all__)
    for name in ebt.__all__:
        assert hasattr(ebt, name), name
    # the loop's building blocks are reached through ebt_core.descent, not the top level
    for internal in ("evaluate", "update", "descent_step", "descend", "DescentPolicy"):
        assert internal not in ebt.__all__
